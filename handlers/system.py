"""Connection-level events that touch no data."""

from datetime import UTC, datetime

from pydantic import BaseModel

from server.events import event


class PingResult(BaseModel):
    serverTime: str


@event("sys:ping", result=PingResult, budget=None)
async def ping(ctx, payload) -> dict:
    """Round-trip check; answers with the server's clock (ISO 8601, UTC)."""
    return {"serverTime": datetime.now(UTC).isoformat()}
