"""The event registry: every client→server event with its schema, roles, rate budget and handler, and every push.

It is the single source for dispatch and for `docs/protocol.md`: the handlers in
`handlers/` register themselves here with `@event(...)`, and server-pushed events are
declared with `push(...)` in `server/pushes/`, next to the code that emits them.
"""

import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from models import roles
from server.infra.rate_limits import WRITES

INT64 = (-(2**63), 2**63 - 1)
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")


def _visible(value: str) -> str:
    if not any(unicodedata.category(char)[0] in "LNPS" for char in value):
        raise ValueError("must contain a visible character")
    return value


def _iso_8601(value: object) -> object:
    if not isinstance(value, str) or not ISO_8601.match(value):
        raise ValueError("must be an ISO 8601 date and time with a time zone, e.g. 2027-01-31T12:00:00+00:00")
    return value


MAX_PASSWORD_BYTES = 72


def _bcrypt_sized(password: str) -> str:
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValueError(f"must be at most {MAX_PASSWORD_BYTES} bytes")
    return password


Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
NewPassword = Annotated[str, Field(min_length=8), AfterValidator(_bcrypt_sized)]
"""8+ characters and at most 72 bytes (bcrypt's limit)."""
Visible = AfterValidator(_visible)
"""For names, titles and messages: something a person can see, not only spaces or zero-width characters."""
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]
"""An ISO 8601 date and time with a time zone, as a string (numbers and digit strings are refused)."""
Id = Annotated[str, Field(min_length=1, max_length=64)]
"""An object id in a payload; a malformed one is answered as `not_found` by the model."""


def _printable(value: object, path: str = "") -> None:
    if isinstance(value, str):
        if CONTROL.search(value):
            raise ValueError("must not contain NUL or other control characters (tab and line breaks are allowed)")
    elif isinstance(value, list | tuple | set):
        for item in value:
            _printable(item)


class Payload(BaseModel):
    """Base of every event payload (and HTTP body): unknown fields are refused, so typos surface, and no text may carry
    control characters. Every integer field is bounded (`bounded_integers` checks at registration)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        _printable(value)
        return value


def unbounded_integers(schema: dict[str, Any], path: str = "") -> list[str]:
    """The integer fields of a JSON schema without both bounds inside BSON's 64-bit range (they would fail as `internal`)."""
    found, definitions = [], schema.get("$defs", {})

    def walk(node: dict[str, Any], where: str) -> None:
        if "$ref" in node:
            walk(definitions[node["$ref"].rsplit("/", 1)[1]], where)
        for option in node.get("anyOf", []):
            walk(option, where)
        if node.get("type") == "array":
            walk(node.get("items", {}), where + "[]")
        for name, child in node.get("properties", {}).items():
            walk(child, f"{where}.{name}" if where else name)
        if node.get("type") == "integer":
            low = node.get("minimum", node.get("exclusiveMinimum"))
            high = node.get("maximum", node.get("exclusiveMaximum"))
            if low is None or high is None or low < INT64[0] or high > INT64[1]:
                found.append(where or "(payload)")

    walk(schema, path)
    return found


class NoPayload(Payload):
    pass


ClientRequestId = Annotated[str, Field(min_length=1, max_length=64)]


class Retryable(Payload):
    """Payload of an event that creates something or moves money: safe to send again after a lost ack."""

    clientRequestId: ClientRequestId | None = Field(
        default=None,
        description="your id for this request (1–64 characters): sent again with the same payload it returns the first "
        "result and changes nothing; with another payload, `idempotency_conflict`",
    )


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    handler: Callable[..., Awaitable[Any]]
    payload: type[BaseModel]
    result: type[BaseModel]
    roles: frozenset[str]
    budget: str | None
    """The per-user rate budget each call spends (`server.infra.rate_limits`); None for events that only read."""
    retryable: bool
    """Takes a `clientRequestId` (its payload is a `Retryable`)."""

    @property
    def summary(self) -> str:
        return (self.handler.__doc__ or "").strip()


@dataclass(frozen=True, slots=True)
class Push:
    name: str
    payload: type[BaseModel]
    summary: str
    stored: bool
    """Kept as a notification for each user it is sent to (`notifications:list`), so an offline user catches up."""


@dataclass(slots=True)
class Registry:
    events: dict[str, Event] = field(default_factory=dict)
    pushes: dict[str, Push] = field(default_factory=dict)

    def event(
        self,
        name: str,
        *,
        payload: type[BaseModel] = NoPayload,
        result: type[BaseModel],
        who: frozenset[str] = roles.ALL,
        budget: str | None = WRITES,
    ):
        def register(handler):
            if name in self.events:
                raise ValueError(f"event {name!r} registered twice")
            if unbounded := unbounded_integers(payload.model_json_schema()):
                raise TypeError(f"event {name!r}: integer fields need bounds within 64 bits: {unbounded}")
            self.events[name] = Event(name, handler, payload, result, frozenset(who), budget, issubclass(payload, Retryable))
            return handler

        return register

    def push(self, name: str, payload: type[BaseModel], summary: str, *, stored: bool = False) -> Push:
        if name in self.pushes:
            raise ValueError(f"push {name!r} declared twice")
        self.pushes[name] = declared = Push(name, payload, summary, stored)
        return declared


registry = Registry()
event = registry.event
push = registry.push
