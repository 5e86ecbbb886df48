"""Public profiles: what anyone signed in may see of a user, and the Elite add-ons."""

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from models import profiles, search
from server.gateway.dispatch import EventContext
from server.gateway.events import Id, Payload, Visible, event
from server.gateway.shapes import ContractorsPage, PageQuery, PublicProfileResult

MAX_PORTFOLIO_ITEMS = 20
MAX_SOCIAL_LINKS = 10
MAX_URL_CHARS = 500


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or any(char.isspace() for char in value):
        raise ValueError("must be an https:// (or http://) address")
    return value


WebUrl = Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS), AfterValidator(_web_url)]


class PortfolioEntry(Payload):
    title: Annotated[str, Field(min_length=1, max_length=120), Visible]
    description: str | None = Field(default=None, max_length=2000)
    url: WebUrl | None = None
    fileIds: list[Id] = Field(default=[], max_length=10, description="files you uploaded (POST /api/files)")


class LinkEntry(Payload):
    url: WebUrl
    label: Annotated[str, Field(min_length=1, max_length=60), Visible] | None = None


class ProfileRef(Payload):
    userId: Id


class UpdatePayload(Payload):
    resumeFileId: Id | None = Field(default=None, description="a PDF you uploaded; `null` removes it")
    portfolio: list[PortfolioEntry] | None = Field(default=None, max_length=MAX_PORTFOLIO_ITEMS, description="replaces the whole portfolio")
    socialLinks: list[LinkEntry] | None = Field(default=None, max_length=MAX_SOCIAL_LINKS, description="replaces all links")


class PeopleQuery(PageQuery):
    tags: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(default=[], max_length=20, description="skills wanted (any of)")
    q: str | None = Field(default=None, min_length=1, max_length=100, description="text in the name or bio")


@event("users:search", payload=PeopleQuery, result=ContractorsPage, budget=None)
async def search_people(ctx: EventContext, payload: PeopleQuery) -> dict:
    """Contractors whose skills share the tags (most shared first) or whose name or bio contains `q`; among equals Elite
    first, then identity-verified, then most completed tasks. Items are public profiles with `matchedSkills`."""
    services = ctx.services
    return await search.contractors(
        services.db, services.settings.plans, tags=payload.tags, text=payload.q, exclude=[], page=payload.page, limit=payload.limit
    )


@event("profile:get", payload=ProfileRef, result=PublicProfileResult, budget=None)
async def get_profile(ctx: EventContext, payload: ProfileRef) -> dict:
    """A user's public profile: never their email or anything private. Elite add-ons only while their Elite plan is active."""
    return {"profile": await profiles.public(ctx.services.db, payload.userId, ctx.services.settings.plans)}


@event("profile:update", payload=UpdatePayload, result=PublicProfileResult)
async def update_profile(ctx: EventContext, payload: UpdatePayload) -> dict:
    """Set your Elite add-ons (`plan_required` without Elite); omitted fields stay. They are kept if the plan lapses, hidden
    until it is back. Files they name become readable by anyone signed in while shown."""
    changes = payload.model_dump(include=payload.model_fields_set)
    for field in ("portfolio", "socialLinks"):
        if changes.get(field) is None and field in changes:
            changes[field] = []
    return {"profile": await profiles.update_add_ons(ctx.services.db, ctx.user_id, changes, ctx.services.settings.plans)}
