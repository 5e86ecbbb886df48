"""Renders `docs/asyncapi.yaml`, an AsyncAPI 3.0 description of the socket protocol, from the registry and its schemas.

One channel (the Socket.IO connection); each client→server event is an operation the
server `receive`s, with the event's payload as its message and the ack envelope as its
reply; each push is an operation the server `send`s. Component names are the event
names with `:` written as `.` (AsyncAPI keys allow no colon); each message keeps the
event's real name in `name`. Every schema is the pydantic model's JSON schema, its
`$defs` moved to `components/schemas`. `tests/test_protocol_doc.py` checks the file is
current and valid against the AsyncAPI 3.0.0 JSON Schema (`docs/schemas/`).
"""

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

import handlers  # noqa: F401  (registers every event)
import server.pushes  # noqa: F401  (declares every push)
from models import roles
from models.errors import ERROR_CODES
from server.gateway.events import Registry, registry

PATH = Path("docs/asyncapi.yaml")
CHANNEL = "socket"


def render(source: Registry = registry) -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": _error_schema()}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    channel_messages: dict[str, Any] = {}

    def message(key: str, name: str, summary: str, payload: dict[str, Any]) -> dict[str, str]:
        messages[key] = {"name": name, "title": name, "summary": summary, "contentType": "application/json", "payload": payload}
        channel_messages[key] = {"$ref": f"#/components/messages/{key}"}
        return {"$ref": f"#/channels/{CHANNEL}/messages/{key}"}

    for spec in sorted(source.events.values(), key=lambda spec: spec.name):
        key = _key(spec.name)
        who = "any signed-in user" if spec.roles == roles.ALL else ", ".join(sorted(spec.roles))
        request = message(key, spec.name, spec.summary.split("\n")[0], _schema(spec.payload, schemas))
        ack = message(f"{key}.ack", f"{spec.name} (ack)", f"The ack of `{spec.name}`.", _envelope(_schema(spec.result, schemas)))
        operations[key] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "title": spec.name,
            "summary": spec.summary.split("\n")[0],
            "description": f"{spec.summary}\n\nWho: {who}. Rate budget: {spec.budget or 'none (reads only)'}."
            + (" Retryable: takes `clientRequestId`." if spec.retryable else ""),
            "messages": [request],
            "reply": {"channel": {"$ref": f"#/channels/{CHANNEL}"}, "messages": [ack]},
        }
    for pushed in sorted(source.pushes.values(), key=lambda pushed: pushed.name):
        key = f"push.{_key(pushed.name)}"
        sent = message(key, pushed.name, pushed.summary, _schema(pushed.payload, schemas))
        operations[key] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{CHANNEL}"},
            "title": pushed.name,
            "summary": pushed.summary,
            "description": pushed.summary + (" Stored as a notification (`notifications:list`)." if pushed.stored else ""),
            "messages": [sent],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Realtime marketplace server",
            "version": "1.0.0",
            "description": "One Socket.IO connection per client (auth: `{token}`); every client event is acknowledged with an "
            "envelope. Generated from the event registry by `python -m server protocol-doc`; the prose is in docs/protocol.md.",
        },
        "servers": {"local": {"host": "localhost:8080", "protocol": "ws", "pathname": "/socket.io/", "description": "Socket.IO (Engine.IO 4)"}},
        "defaultContentType": "application/json",
        "channels": {CHANNEL: {"address": "/socket.io/", "title": "The Socket.IO connection", "messages": channel_messages}},
        "operations": operations,
        "components": {"schemas": dict(sorted(schemas.items())), "messages": messages},
    }


def write(path: Path = PATH) -> None:
    path.write_text(dump(render()))


def dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=120)


def _key(name: str) -> str:
    return name.replace(":", ".")


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """The model's schema with its definitions moved to `components/schemas`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(schema.get("title", model.__name__), schema)
    return {"$ref": f"#/components/schemas/{schema.get('title', model.__name__)}"}


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "oneOf": [
            {"type": "object", "required": ["ok", "data"], "properties": {"ok": {"const": True}, "data": data}},
            {"type": "object", "required": ["ok", "error"], "properties": {"ok": {"const": False}, "error": {"$ref": "#/components/schemas/Error"}}},
        ]
    }


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {
                "type": "string",
                "enum": list(ERROR_CODES),
                "description": "; ".join(f"`{code}`: {meaning}" for code, (_, meaning) in ERROR_CODES.items()),
            },
            "message": {"type": "string"},
            "details": {"type": "object"},
        },
    }
