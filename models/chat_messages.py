"""Chat messages: numbered per room (`seq`), stored once per `clientMsgId`, paged by `seq`.

Sending is one transaction: the room's `lastSeq` is incremented (which orders concurrent
senders), the message stored, the room's last message and the sender's read marker moved.
A retry with the same `clientMsgId` (a lost ack) finds the stored message and returns it.
"""

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import blocks, chat_rooms, clock, files
from models.db import Database
from models.errors import AppError
from models.ids import object_id

COLLECTION = "chat_messages"
SYNC_LIMIT = 500


def public(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(message["_id"]), "roomId": str(message["roomId"]), "senderId": str(message["senderId"]),
        "text": message["text"], "seq": message["seq"], "createdAt": message["createdAt"].isoformat(),
        "clientMsgId": message["clientMsgId"], "fileIds": [str(f) for f in message["fileIds"]],
        "editedAt": message["editedAt"].isoformat() if message.get("editedAt") else None, "deleted": message.get("deleted", False),
    }


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index([("roomId", 1), ("seq", 1)], unique=True)
    await db[COLLECTION].create_index([("roomId", 1), ("senderId", 1), ("clientMsgId", 1)], unique=True)


async def send(db: Database, room_id: str, sender: str, text: str, client_msg_id: str, file_ids: list[str]) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """`(message, room, new?)`; `new` is False for a retry of a message already stored."""

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any], bool]:
        room = await chat_rooms.member_room(db, room_id, sender, session)
        existing = await db[COLLECTION].find_one({"roomId": room["_id"], "senderId": ObjectId(sender), "clientMsgId": client_msg_id}, session=session)
        if existing is not None:
            return existing, room, False
        if room["kind"] == "direct":
            other = next(member for member in room["members"] if str(member) != sender)
            if await blocks.between(db, sender, other, session):
                raise AppError("blocked", "You cannot send messages to this user.")
        attached = await files.owned_by(db, session, file_ids, sender) if file_ids else []
        message = {"_id": ObjectId(), "roomId": room["_id"], "senderId": ObjectId(sender), "text": text, "clientMsgId": client_msg_id,
                   "fileIds": attached, "createdAt": clock.now()}
        room = await db[chat_rooms.COLLECTION].find_one_and_update(
            {"_id": room["_id"]}, {"$inc": {"lastSeq": 1}, "$set": {"lastActivityAt": message["createdAt"]}},
            return_document=ReturnDocument.AFTER, session=session,
        )
        message["seq"] = room["lastSeq"]
        await db[COLLECTION].insert_one(message, session=session)
        view = public(message)
        await db[chat_rooms.COLLECTION].update_one(
            {"_id": room["_id"]}, {"$set": {"lastMessage": view}, "$max": {f"reads.{sender}": message["seq"]}}, session=session,
        )
        return message, room, True

    return await db.transaction(work)


async def change(db: Database, message_id: str, author: str, *, text: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Edit (`text`) or delete (`text=None`) your own message; `(message, room)` after the change."""
    key = object_id(message_id, "message")
    changes = {"text": text, "editedAt": clock.now()} if text is not None else {"text": "", "fileIds": [], "deleted": True, "editedAt": clock.now()}

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        message = await db[COLLECTION].find_one_and_update(
            {"_id": key, "senderId": ObjectId(author), "deleted": {"$ne": True}}, {"$set": changes}, return_document=ReturnDocument.AFTER, session=session,
        )
        if message is None:
            current = await db[COLLECTION].find_one({"_id": key}, session=session)
            if current is None:
                raise AppError("not_found", "No such message.")
            if str(current["senderId"]) != author:
                raise AppError("forbidden", "Only the author may change a message.")
            raise AppError("invalid_state", "The message was deleted.", {"status": "deleted"})
        room = await chat_rooms.member_room(db, message["roomId"], author, session)
        return message, room

    return await db.transaction(work)


async def history(db: Database, room_id: str, user_id: str, *, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` messages before `seq` `before` (exclusive; the newest when omitted), oldest first."""
    room = await chat_rooms.member_room(db, room_id, user_id)
    query: dict[str, Any] = {"roomId": room["_id"]} | ({"seq": {"$lt": before}} if before is not None else {})
    newest_first = await db[COLLECTION].find(query).sort("seq", -1).limit(limit).to_list()
    return [public(message) for message in reversed(newest_first)]


async def since(db: Database, room_id: str, user_id: str, after_seq: int) -> dict[str, Any]:
    """What a reconnecting client missed in one room, in order; `hasMore` when over `SYNC_LIMIT`."""
    room = await chat_rooms.member_room(db, room_id, user_id)
    found = await db[COLLECTION].find({"roomId": room["_id"], "seq": {"$gt": after_seq}}).sort("seq", 1).limit(SYNC_LIMIT + 1).to_list()
    return {"roomId": str(room["_id"]), "messages": [public(message) for message in found[:SYNC_LIMIT]], "hasMore": len(found) > SYNC_LIMIT}
