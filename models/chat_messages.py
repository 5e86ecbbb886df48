"""Chat messages: numbered per room (`seq`), stored once per `clientMsgId`, paged by `seq`.

Sending is one transaction: one update of the room increments its `lastSeq` (which orders
concurrent senders) and moves its last message and the sender's read marker, then the
message is stored. A retry with the same `clientMsgId` (a lost ack) returns the stored one.
"""

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from models import chat_rooms, clock, files
from models.db import Database
from models.errors import AppError
from models.ids import object_id

COLLECTION = "chat_messages"
SYNC_LIMIT = 500


def public(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(message["_id"]),
        "roomId": str(message["roomId"]),
        "senderId": str(message["senderId"]),
        "text": message["text"],
        "seq": message["seq"],
        "createdAt": message["createdAt"].isoformat(),
        "clientMsgId": message["clientMsgId"],
        "fileIds": [str(f) for f in message["fileIds"]],
        "editedAt": message["editedAt"].isoformat() if message.get("editedAt") else None,
        "deleted": message.get("deleted", False),
    }


async def ensure_indexes(db: Database) -> None:
    """`clientKey` (room, sender, clientMsgId in one string) is unique; `seq` is unique by construction.

    One single-field unique index rather than compound ones: the embedded engine checks a
    compound unique index by scanning the whole collection on every insert, which made a
    send cost 75 ms at 1,000 messages.
    """
    await db[COLLECTION].create_index([("roomId", 1), ("seq", 1)])
    await db[COLLECTION].create_index("clientKey", unique=True)


def _client_key(room_id: ObjectId, sender: str, client_msg_id: str) -> str:
    return f"{room_id}:{sender}:{client_msg_id}"


async def send(
    db: Database, room_id: str, sender: str, text: str, client_msg_id: str, file_ids: list[str]
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """`(message, room, new?)`; `new` is False for a retry of a message already stored.

    The common case is two writes: the room update that numbers the message (and checks
    the sender may write there), and the insert. A retry is recognized by the unique
    `clientKey` index rather than by a lookup first: the duplicate insert aborts the
    transaction, the room update with it, and the stored message is returned instead.
    """
    room_key = object_id(room_id, "room")
    message = {
        "_id": ObjectId(),
        "roomId": room_key,
        "senderId": ObjectId(sender),
        "text": text,
        "clientMsgId": client_msg_id,
        "clientKey": _client_key(room_key, sender, client_msg_id),
        "fileIds": [],
        "createdAt": clock.now(),
    }

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        if file_ids:
            message["fileIds"] = await files.owned_by(db, session, file_ids, sender)
        room = await chat_rooms.number_message(db, session, message, public(message | {"seq": None}))
        message["seq"] = room["lastSeq"]
        await db[COLLECTION].insert_one(message, session=session)
        return message, room

    try:
        return *await db.transaction(work), True
    except DuplicateKeyError as error:
        if "clientKey" not in (error.details or {}).get("keyPattern", {}):
            raise
    room = await chat_rooms.member_room(db, None, room_id, sender)
    return await db[COLLECTION].find_one({"clientKey": message["clientKey"]}), room, False


async def change(db: Database, message_id: str, author: str, *, text: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Edit (`text`) or delete (`text=None`) your own message; `(message, room)` after the change."""
    key = object_id(message_id, "message")
    changes = {"text": text, "editedAt": clock.now()} if text is not None else {"text": "", "fileIds": [], "deleted": True, "editedAt": clock.now()}

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        message = await db[COLLECTION].find_one_and_update(
            {"_id": key, "senderId": ObjectId(author), "deleted": {"$ne": True}},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if message is None:
            current = await db[COLLECTION].find_one({"_id": key}, session=session)
            if current is None:
                raise AppError("not_found", "No such message.")
            if str(current["senderId"]) != author:
                raise AppError("forbidden", "Only the author may change a message.")
            raise AppError("invalid_state", "The message was deleted.", {"status": "deleted"})
        room = await chat_rooms.member_room(db, session, message["roomId"], author)
        return message, room

    return await db.transaction(work)


async def history(db: Database, room_id: str, user_id: str, *, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` messages before `seq` `before` (exclusive; the newest when omitted), oldest first."""
    room = await chat_rooms.member_room(db, None, room_id, user_id)
    query: dict[str, Any] = {"roomId": room["_id"]} | ({"seq": {"$lt": before}} if before is not None else {})
    newest_first = await db[COLLECTION].find(query).sort("seq", -1).limit(limit).to_list()
    return [public(message) for message in reversed(newest_first)]


async def since(db: Database, room_id: str, user_id: str, after_seq: int) -> dict[str, Any]:
    """What a reconnecting client missed in one room, in order; `hasMore` when over `SYNC_LIMIT`."""
    room = await chat_rooms.member_room(db, None, room_id, user_id)
    found = await db[COLLECTION].find({"roomId": room["_id"], "seq": {"$gt": after_seq}}).sort("seq", 1).limit(SYNC_LIMIT + 1).to_list()
    return {"roomId": str(room["_id"]), "messages": [public(message) for message in found[:SYNC_LIMIT]], "hasMore": len(found) > SYNC_LIMIT}
