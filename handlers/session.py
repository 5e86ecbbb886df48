"""Keeping a socket's session alive without reconnecting."""

from pydantic import BaseModel, Field

from models.errors import AppError
from server.gateway.dispatch import EventContext
from server.gateway.events import Payload, event


class RefreshPayload(Payload):
    accessToken: str = Field(min_length=1, max_length=4096)


class RefreshResult(BaseModel):
    userId: str
    role: str
    expiresAt: str


@event("auth:refresh", payload=RefreshPayload, result=RefreshResult, budget=None)
async def refresh(ctx: EventContext, payload: RefreshPayload) -> dict:
    """Adopt a fresh access token (from `POST /api/auth/refresh`) before the current one expires, so the socket is not sent `session:expired`.

    The token must belong to the same user and a live session, as at connect.
    """
    identity = await ctx.services.accounts.authenticate(payload.accessToken)
    if identity.user_id != ctx.user_id:
        raise AppError("forbidden", "That token belongs to another user.")
    await ctx.renew(identity)
    return {"userId": identity.user_id, "role": identity.role, "expiresAt": identity.expires_at.isoformat()}
