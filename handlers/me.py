"""The caller's own profile."""

from typing import Annotated

from pydantic import BaseModel, Field

from models import users
from server.events import Payload, event, push

Skill = Annotated[str, Field(min_length=1, max_length=40)]


class Profile(BaseModel):
    id: str
    name: str
    email: str
    role: str
    bio: str
    skills: list[str]
    createdAt: str


class ProfileResult(BaseModel):
    user: Profile


class UpdatePayload(Payload):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    bio: str | None = Field(default=None, max_length=2000)
    skills: list[Skill] | None = Field(default=None, max_length=30)


ME_UPDATED = push("me:updated", ProfileResult, "The caller's profile changed (pushed to all of that user's sockets, so a second device stays current).")


@event("me:get", result=ProfileResult, budget=None)
async def get_me(ctx, payload) -> dict:
    """The caller's own profile."""
    return {"user": users.public(await users.get(ctx.services.db, ctx.user_id))}


@event("me:update", payload=UpdatePayload, result=ProfileResult)
async def update_me(ctx, payload: UpdatePayload) -> dict:
    """Change name, bio and/or skills; omitted fields stay as they are. Skills are de-duplicated, order kept."""
    user = users.public(await users.update_profile(ctx.services.db, ctx.user_id, payload.model_dump(exclude_none=True)))
    await ctx.services.emit_to_user(ctx.user_id, ME_UPDATED, {"user": user})
    return {"user": user}
