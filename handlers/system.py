"""Connection-level events that touch no data."""

from datetime import UTC, datetime

from pydantic import BaseModel

from server.gateway.dispatch import EventContext
from server.gateway.events import NoPayload, event


class PingResult(BaseModel):
    serverTime: str


@event("sys:ping", result=PingResult, budget=None)
async def ping(ctx: EventContext, payload: NoPayload) -> dict:
    """Round-trip check; answers with the server's clock (ISO 8601, UTC)."""
    return {"serverTime": datetime.now(UTC).isoformat()}
