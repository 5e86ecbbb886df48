"""Keeping a socket's session alive without reconnecting."""

from pydantic import BaseModel, Field

from models.errors import AppError
from server.gateway.dispatch import EventContext
from server.gateway.events import NewPassword, NoPayload, Payload, event
from workers import mail as mail_jobs


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


class PasswordChange(Payload):
    currentPassword: str = Field(min_length=1, max_length=1024)
    newPassword: NewPassword


class FreshTokens(BaseModel):
    accessToken: str
    refreshToken: str
    expiresIn: int


class SignedInDevice(BaseModel):
    id: str = Field(description="the session id (`auth:sessions:revoke` takes it)")
    createdAt: str
    lastUsedAt: str
    userAgent: str | None
    ip: str | None
    current: bool = Field(description="the session this socket belongs to")


class Devices(BaseModel):
    sessions: list[SignedInDevice]


class SessionRef(Payload):
    sessionId: str = Field(min_length=1, max_length=64)


class Ended(BaseModel):
    sessionId: str


@event("auth:password:change", payload=PasswordChange, result=FreshTokens)
async def change_password(ctx: EventContext, payload: PasswordChange) -> dict:
    """Change your password: your other sessions end at once (their sockets get `session:revoked`), this one gets fresh tokens.

    A wrong `currentPassword` is `invalid_credentials` and counts as a failed sign-in (`rate_limited` after too many).
    """
    services = ctx.services
    fresh, ended = await services.accounts.change_password(ctx.connection.identity, payload.currentPassword, payload.newPassword, ctx.client)
    await services.revocations.end(ended)
    await services.jobs.enqueue_in(0, mail_jobs.password_changed, ctx.user_id)
    return {"accessToken": fresh["accessToken"], "refreshToken": fresh["refreshToken"], "expiresIn": fresh["expiresIn"]}


@event("auth:sessions", result=Devices, budget=None)
async def list_sessions(ctx: EventContext, payload: NoPayload) -> dict:
    """Where you are signed in: one session per sign-in (device), most recently used first."""
    return {"sessions": await ctx.services.accounts.live_sessions(ctx.user_id, ctx.connection.identity.session_id)}


@event("auth:sessions:revoke", payload=SessionRef, result=Ended)
async def revoke_session(ctx: EventContext, payload: SessionRef) -> dict:
    """Sign one of your sessions out (a lost phone, say): its tokens stop working and its sockets get `session:revoked`."""
    await ctx.services.revocations.end(await ctx.services.accounts.end_session(ctx.user_id, payload.sessionId))
    return {"sessionId": payload.sessionId}
