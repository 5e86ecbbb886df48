"""The event registry: every client→server event with its schema, roles, rate budget and handler, and every push.

It is the single source for dispatch and for `docs/protocol.md`: the handlers in
`handlers/` register themselves here with `@event(...)`, and server-pushed events are
declared with `push(...)` in `server/pushes/`, next to the code that emits them.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from models import roles
from server.infra.rate_limits import WRITES

Id = Annotated[str, Field(min_length=1, max_length=64)]
"""An object id in a payload; a malformed one is answered as `not_found` by the model."""


class Payload(BaseModel):
    """Base of every event payload: unknown fields are refused, so typos surface."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


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
