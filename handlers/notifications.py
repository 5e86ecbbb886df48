"""The caller's stored notifications: what was pushed while they were away."""

from pydantic import BaseModel, Field, StrictBool

from models import notifications
from server.gateway.dispatch import EventContext
from server.gateway.events import Id, Payload, event
from server.gateway.shapes import Notification, PageQuery, Pagination


class NotificationQuery(PageQuery):
    unreadOnly: StrictBool = False


class NotificationPage(BaseModel):
    notifications: list[Notification]
    pagination: Pagination
    unreadCount: int


class MarkRead(Payload):
    ids: list[Id] = Field(min_length=1, max_length=100)


class Marked(BaseModel):
    updated: int = Field(description="how many of yours changed from unread to read")


@event("notifications:list", payload=NotificationQuery, result=NotificationPage, budget=None)
async def list_notifications(ctx: EventContext, payload: NotificationQuery) -> dict:
    """Your notifications, newest first, with the number still unread."""
    return await notifications.listing(ctx.services.db, ctx.user_id, unread_only=payload.unreadOnly, page=payload.page, limit=payload.limit)


@event("notifications:read", payload=MarkRead, result=Marked)
async def mark_read(ctx: EventContext, payload: MarkRead) -> dict:
    """Mark some of your notifications read (others' ids and unknown ids are ignored)."""
    return {"updated": await notifications.mark_read(ctx.services.db, ctx.user_id, payload.ids)}
