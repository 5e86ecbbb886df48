"""Chat: direct, group and task rooms; messages with history, sync, receipts and typing; presence."""

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from models import chat_messages, chat_rooms
from server import pushes
from server.gateway.dispatch import EventContext
from server.gateway.events import Id, NoPayload, Payload, Retryable, Visible, event
from server.gateway.rooms import presence_room
from server.gateway.shapes import Message, MessageResult, PageQuery, Pagination, Room, RoomResult
from server.infra import rate_limits

Seq = Annotated[StrictInt, Field(ge=0, le=2**53)]


class UserRef(Payload):
    userId: Id


class NewGroup(Retryable):
    name: Annotated[str, Field(min_length=1, max_length=100), Visible]
    memberIds: list[Id] = Field(min_length=1, max_length=chat_rooms.MAX_MEMBERS - 1)


class RoomRef(Payload):
    roomId: Id


class Members(RoomRef):
    userIds: list[Id] = Field(min_length=1, max_length=chat_rooms.MAX_MEMBERS)


class Send(RoomRef):
    text: Annotated[str, Field(min_length=1, max_length=4_000, description="1–4,000 characters after trimming"), Visible]
    clientMsgId: str = Field(min_length=1, max_length=64, description="your id for this message; sending it again returns the stored message")
    fileIds: list[Id] = Field(default_factory=list, max_length=10)


class Edit(Payload):
    messageId: Id
    text: Annotated[str, Field(min_length=1, max_length=4_000), Visible]


class MessageRef(Payload):
    messageId: Id


class History(RoomRef):
    before: Seq | None = Field(default=None, description="only messages with a smaller `seq` (exclusive)")
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 50


class SyncRoom(Payload):
    roomId: Id
    afterSeq: Seq


class Sync(Payload):
    rooms: list[SyncRoom] = Field(min_length=1, max_length=100)


class Read(RoomRef):
    seq: Seq


class Watch(Payload):
    userIds: list[Id] = Field(min_length=1, max_length=200)


class Rooms(BaseModel):
    rooms: list[Room]
    pagination: Pagination


class Messages(BaseModel):
    messages: list[Message]


class RoomSync(BaseModel):
    roomId: str
    messages: list[Message]
    hasMore: bool = Field(description="more than 500 were missed; sync again from the last `seq`")


class Synced(BaseModel):
    rooms: list[RoomSync]


class Left(BaseModel):
    roomId: str


class Marker(BaseModel):
    roomId: str
    seq: int = Field(description="your read marker after the call (never moves back)")


class Blocked(BaseModel):
    userId: str
    blocked: bool


class Online(BaseModel):
    online: dict[str, bool]


@event("chat:open", payload=UserRef, result=RoomResult)
async def open_direct(ctx: EventContext, payload: UserRef) -> dict:
    """Get or create your one-to-one room with a user (one room per pair); `blocked` if either blocked the other.

    A room made now is announced to the other user with `chat:room`.
    """
    room, created = await chat_rooms.open_direct(ctx.services.db, ctx.user_id, payload.userId)
    if created:
        await pushes.chat.room_changed(ctx.services, room, only=[payload.userId])
    return {"room": chat_rooms.public(room, ctx.user_id)}


@event("chat:create", payload=NewGroup, result=RoomResult)
async def create_group(ctx: EventContext, payload: NewGroup) -> dict:
    """Create a group room with you and the given users (at most 100 members); `blocked` if one of them blocked you."""
    room, created = await chat_rooms.create_group(ctx.services.db, ctx.user_id, payload.name, payload.memberIds, ctx.client_request)
    if created:
        await pushes.chat.room_changed(ctx.services, room)
    return {"room": chat_rooms.public(room, ctx.user_id)}


@event("chat:members:add", payload=Members, result=RoomResult)
async def add_members(ctx: EventContext, payload: Members) -> dict:
    """Add users to a group room you created; `blocked` if one of them blocked you."""
    room = await chat_rooms.change_members(ctx.services.db, payload.roomId, ctx.user_id, add=payload.userIds)
    await pushes.chat.room_changed(ctx.services, room)
    return {"room": chat_rooms.public(room, ctx.user_id)}


@event("chat:members:remove", payload=Members, result=RoomResult)
async def remove_members(ctx: EventContext, payload: Members) -> dict:
    """Remove users from a group room you created; they are told with `chat:room`."""
    room = await chat_rooms.change_members(ctx.services.db, payload.roomId, ctx.user_id, remove=payload.userIds)
    await pushes.chat.room_changed(ctx.services, room, also=payload.userIds)
    return {"room": chat_rooms.public(room, ctx.user_id)}


@event("chat:leave", payload=RoomRef, result=Left)
async def leave(ctx: EventContext, payload: RoomRef) -> dict:
    """Leave a group room."""
    room = await chat_rooms.leave(ctx.services.db, payload.roomId, ctx.user_id)
    await pushes.chat.room_changed(ctx.services, room, also=[ctx.user_id])
    return {"roomId": str(room["_id"])}


@event("chat:rooms", payload=PageQuery, result=Rooms, budget=None)
async def rooms(ctx: EventContext, payload: PageQuery) -> dict:
    """Your rooms, most recently active first, with the last message and your unread count."""
    return await chat_rooms.listing(ctx.services.db, ctx.user_id, page=payload.page, limit=payload.limit)


@event("chat:send", payload=Send, result=MessageResult, budget=rate_limits.CHAT)
async def send(ctx: EventContext, payload: Send) -> dict:
    """Send a message (members only). A retry with the same `clientMsgId` returns the stored message and pushes nothing."""
    services = ctx.services
    async with services.chat.room_lock(payload.roomId):
        message, room, new = await chat_messages.send(services.db, payload.roomId, ctx.user_id, payload.text, payload.clientMsgId, payload.fileIds)
        if new:
            return await pushes.chat.message_sent(services, room, message, ctx.user_id)
    return {"message": chat_messages.public(message)}


@event("chat:edit", payload=Edit, result=MessageResult)
async def edit(ctx: EventContext, payload: Edit) -> dict:
    """Change the text of your own message."""
    message, room = await chat_messages.change(ctx.services.db, payload.messageId, ctx.user_id, text=payload.text)
    return await pushes.chat.message_changed(ctx.services, room, message, ctx.user_id)


@event("chat:delete", payload=MessageRef, result=MessageResult)
async def delete(ctx: EventContext, payload: MessageRef) -> dict:
    """Delete your own message (it stays in the sequence, emptied and marked `deleted`)."""
    message, room = await chat_messages.change(ctx.services.db, payload.messageId, ctx.user_id, text=None)
    return await pushes.chat.message_changed(ctx.services, room, message, ctx.user_id)


@event("chat:history", payload=History, result=Messages, budget=None)
async def history(ctx: EventContext, payload: History) -> dict:
    """Page backwards through a room: up to `limit` messages before `before`, oldest first."""
    return {"messages": await chat_messages.history(ctx.services.db, payload.roomId, ctx.user_id, before=payload.before, limit=payload.limit)}


@event("chat:sync", payload=Sync, result=Synced, budget=None)
async def sync(ctx: EventContext, payload: Sync) -> dict:
    """After reconnecting: every message after `afterSeq` in each room, in order."""
    return {"rooms": [await chat_messages.since(ctx.services.db, item.roomId, ctx.user_id, item.afterSeq) for item in payload.rooms]}


@event("chat:read", payload=Read, result=Marker)
async def read(ctx: EventContext, payload: Read) -> dict:
    """Move your read marker forward to `seq`; the room's members get `chat:read`."""
    room, marker = await chat_rooms.mark_read(ctx.services.db, payload.roomId, ctx.user_id, payload.seq)
    await pushes.chat.read_moved(ctx.services, room, ctx.user_id, marker)
    return {"roomId": str(room["_id"]), "seq": marker}


@event("chat:typing", payload=RoomRef, result=NoPayload, budget=None)
async def typing(ctx: EventContext, payload: RoomRef) -> dict:
    """Tell the room's other members you are typing; at most once per `CHAT_TYPING_INTERVAL_SECONDS` per room."""
    await ctx.services.limits.allow_typing(ctx.user_id, payload.roomId)
    room = await chat_rooms.member_room(ctx.services.db, None, payload.roomId, ctx.user_id)
    await pushes.chat.typing(ctx.services, room, ctx.user_id)
    return {}


@event("chat:block", payload=UserRef, result=Blocked)
async def block(ctx: EventContext, payload: UserRef) -> dict:
    """Block a user: neither of you can open or write in your direct room, and they cannot add you to groups or watch your presence."""
    await chat_rooms.block(ctx.services.db, ctx.user_id, payload.userId)
    return {"userId": payload.userId, "blocked": True}


@event("chat:unblock", payload=UserRef, result=Blocked)
async def unblock(ctx: EventContext, payload: UserRef) -> dict:
    """Lift your block."""
    await chat_rooms.unblock(ctx.services.db, ctx.user_id, payload.userId)
    return {"userId": payload.userId, "blocked": False}


@event("presence:subscribe", payload=Watch, result=Online, budget=None)
async def watch_presence(ctx: EventContext, payload: Watch) -> dict:
    """Get `presence` pushes on this socket when these users come online or go offline; answers who is online now.

    Only for users you share a room with and who have not blocked you (admins: anyone); otherwise `forbidden` with `details.userIds`.
    """
    await chat_rooms.require_presence_visible(ctx.services.db, ctx.user_id, ctx.role, payload.userIds)
    for user in payload.userIds:
        await ctx.join(presence_room(user))
    return {"online": await ctx.services.presence.online(payload.userIds)}


@event("presence:unsubscribe", payload=Watch, result=Online, budget=None)
async def unwatch_presence(ctx: EventContext, payload: Watch) -> dict:
    """Stop `presence` pushes for these users on this socket."""
    for user in payload.userIds:
        await ctx.leave(presence_room(user))
    return {"online": {}}
