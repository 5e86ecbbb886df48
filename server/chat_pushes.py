"""What chat pushes. Not stored as notifications: `chat:sync` is how a client catches up."""

from pydantic import BaseModel, Field

from server.events import push


class Message(BaseModel):
    id: str
    roomId: str
    senderId: str
    text: str
    seq: int = Field(description="increases by one per message in the room")
    createdAt: str
    clientMsgId: str
    fileIds: list[str]
    editedAt: str | None
    deleted: bool


class MessageResult(BaseModel):
    message: Message


class Room(BaseModel):
    id: str
    kind: str = Field(description="`direct`, `group` or `task`")
    name: str | None
    memberIds: list[str]
    createdBy: str | None
    taskId: str | None
    lastSeq: int
    lastMessage: Message | None
    unreadCount: int = Field(description="messages after your read marker")
    createdAt: str


class RoomResult(BaseModel):
    room: Room


class ReadMarker(BaseModel):
    roomId: str
    userId: str
    seq: int


class Typing(BaseModel):
    roomId: str
    userId: str


class PresenceChange(BaseModel):
    userId: str
    online: bool


CHAT_MESSAGE = push("chat:message", MessageResult, "A new message in one of your rooms; every socket of every member gets it once.")
CHAT_MESSAGE_UPDATED = push("chat:message:updated", MessageResult, "A message was edited or deleted (`deleted: true`, text emptied).")
CHAT_READ = push("chat:read", ReadMarker, "A member's read marker moved forward.")
CHAT_TYPING = push("chat:typing", Typing, "Another member is typing (to the room's other members; never stored).")
CHAT_ROOM = push("chat:room", RoomResult, "A room you are (or were) in was created or its members changed.")
PRESENCE = push("presence", PresenceChange, "A user you subscribed to (`presence:subscribe`) came online (first socket) or went offline (last socket).")


def member_rooms(members) -> list[str]:
    return [f"user:{member}" for member in members]
