"""The caller's own profile."""

from typing import Annotated

from pydantic import Field

from models import users
from server import pushes
from server.gateway.dispatch import EventContext
from server.gateway.events import NoPayload, Payload, Visible, event
from server.gateway.shapes import ProfileResult

Skill = Annotated[str, Field(min_length=1, max_length=40)]


class UpdatePayload(Payload):
    name: Annotated[str, Field(min_length=1, max_length=100), Visible] | None = None
    bio: str | None = Field(default=None, max_length=2000)
    skills: list[Skill] | None = Field(default=None, max_length=30)


@event("me:get", result=ProfileResult, budget=None)
async def get_me(ctx: EventContext, payload: NoPayload) -> dict:
    """The caller's own profile."""
    return {"user": users.public(await users.get(ctx.services.db, ctx.user_id))}


@event("me:update", payload=UpdatePayload, result=ProfileResult)
async def update_me(ctx: EventContext, payload: UpdatePayload) -> dict:
    """Change name, bio and/or skills; omitted fields stay as they are. Skills are de-duplicated, order kept."""
    user = await users.update_profile(ctx.services.db, ctx.user_id, payload.model_dump(exclude_none=True))
    return await pushes.account.profile_changed(ctx.services, user)
