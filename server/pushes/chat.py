"""What chat pushes. Not stored as notifications: `chat:sync` is how a client catches up."""

from typing import Any

from bson import ObjectId

from models import chat_messages, chat_rooms
from server.gateway.events import push
from server.gateway.rooms import presence_room
from server.gateway.shapes import MessageResult, RoomResult, Shape
from server.pushes.delivery import deliver


class ReadMarker(Shape):
    roomId: str
    userId: str
    seq: int


class Typing(Shape):
    roomId: str
    userId: str


class PresenceChange(Shape):
    userId: str
    online: bool


CHAT_MESSAGE = push(
    "chat:message",
    MessageResult,
    "A new message in one of your rooms; every socket of every member gets it once (not members who blocked the sender, in group and task rooms).",
)
CHAT_MESSAGE_UPDATED = push("chat:message:updated", MessageResult, "A message was edited or deleted (`deleted: true`, text emptied).")
CHAT_READ = push("chat:read", ReadMarker, "A member's read marker moved forward.")
CHAT_TYPING = push("chat:typing", Typing, "Another member is typing (to the room's other members; never stored).")
CHAT_ROOM = push("chat:room", RoomResult, "A room you are (or were) in was created or its members changed.")
PRESENCE = push(
    "presence", PresenceChange, "A user you subscribed to (`presence:subscribe`) came online (first socket) or went offline (last socket)."
)


async def message_sent(services, room: dict[str, Any], message: dict[str, Any], sender: str) -> dict[str, Any]:
    """The new message to the sender's audience in the room; returns it as sent."""
    view = {"message": chat_messages.public(message)}
    await deliver(services, CHAT_MESSAGE, view, users=await chat_rooms.audience(services.db, room, sender))
    return view


async def message_changed(services, room: dict[str, Any], message: dict[str, Any], author: str) -> dict[str, Any]:
    view = {"message": chat_messages.public(message)}
    await deliver(services, CHAT_MESSAGE_UPDATED, view, users=await chat_rooms.audience(services.db, room, author))
    return view


async def read_moved(services, room: dict[str, Any], user_id: str, seq: int) -> None:
    await deliver(services, CHAT_READ, {"roomId": str(room["_id"]), "userId": user_id, "seq": seq}, users=room["members"])


async def typing(services, room: dict[str, Any], user_id: str) -> None:
    """To the room's other members who have not blocked the typist."""
    others = [member for member in await chat_rooms.audience(services.db, room, user_id) if str(member) != user_id]
    await deliver(services, CHAT_TYPING, {"roomId": str(room["_id"]), "userId": user_id}, users=others)


async def room_changed(services, room: dict[str, Any], also: list[str] = (), only: list[str] | None = None) -> None:
    """Each member (and each user in `also`; or just the users in `only`) gets the room as they see it: the unread count is theirs."""
    for user in only if only is not None else dict.fromkeys([*map(str, room["members"]), *also]):
        await deliver(services, CHAT_ROOM, {"room": chat_rooms.public(room, user)}, users=[user])


async def presence_changed(services, user_id: str | ObjectId, online: bool) -> None:
    await deliver(services, PRESENCE, {"userId": str(user_id), "online": online}, rooms=[presence_room(user_id)])
