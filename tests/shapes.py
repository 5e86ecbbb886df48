"""Every ack and push the suite observes is checked against the shape the registry declares for it.

`CheckedClient` is the python-socketio client every test socket uses: each successful ack is
validated against its event's `result` model and each push against its declared payload
model. Shapes refuse undeclared fields, so a `models/*.public` dict that drifts from its
declared shape is caught wherever a test sees it. What was seen is tallied in `SEEN`; a
mismatch is kept in `MISMATCHES` (a push handler's exception would be swallowed by the
client's reader) and the session fails at its end if there is any (`conftest`).
"""

from collections import Counter

import socketio
from pydantic import ValidationError

import handlers  # noqa: F401  (registers every event)
import server.pushes  # noqa: F401  (declares every push)
from server.gateway.events import registry

SEEN: Counter[str] = Counter()
MISMATCHES: list[str] = []


def check(kind: str, name: str, data) -> None:
    """Validate one observed ack (`kind="ack"`) or push against its declared model; unknown names count as mismatches."""
    model = (
        registry.events[name].result
        if kind == "ack" and name in registry.events
        else registry.pushes[name].payload
        if kind == "push" and name in registry.pushes
        else None
    )
    if model is None:
        MISMATCHES.append(f"{kind} {name}: not declared in the registry")
        return
    try:
        model.model_validate(data)
    except ValidationError as error:
        MISMATCHES.append(f"{kind} {name}: {error}")
    else:
        SEEN[f"{kind} {name}"] += 1


class CheckedClient(socketio.AsyncClient):
    async def call(self, event, data=None, namespace=None, timeout=60):
        answer = await super().call(event, data, namespace=namespace, timeout=timeout)
        if isinstance(answer, dict) and answer.get("ok") is True:
            check("ack", event, answer["data"])
        return answer

    async def _trigger_event(self, event, namespace, *args):
        if event not in ("connect", "disconnect", "connect_error", "message") and not event.startswith("__"):
            check("push", event, args[0] if args else None)
        return await super()._trigger_event(event, namespace, *args)
