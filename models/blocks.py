"""Users blocking users: no direct room and no direct messages between them, in either direction.

A block is a document of its own (it exists before any room does) and is mirrored onto
the pair's direct room as `blockedBy`, in the same transaction, so that sending a message
checks it in the one update that numbers the message.
"""

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock
from models.db import Database
from models.errors import AppError
from models.ids import object_id

COLLECTION = "blocks"
ROOMS = "chat_rooms"


def _key(blocker: str | ObjectId, blocked: str | ObjectId) -> str:
    return f"{blocker}:{blocked}"


def direct_pair_key(first: str | ObjectId, second: str | ObjectId) -> str:
    """The unique key of two users' direct room, whoever opens it."""
    low, high = sorted([ObjectId(first), ObjectId(second)])
    return f"direct:{low}:{high}"


async def block(db: Database, blocker: str, blocked: str) -> None:
    target = object_id(blocked, "user")
    if str(target) == blocker:
        raise AppError("invalid_request", "You cannot block yourself.", {"fields": [{"field": "userId", "message": "is you", "type": "value_error"}]})

    async def work(session: AsyncClientSession) -> None:
        await db[COLLECTION].update_one({"_id": _key(blocker, target)}, {"$setOnInsert": {"createdAt": clock.now()}}, upsert=True, session=session)
        await db[ROOMS].update_one({"pairKey": direct_pair_key(blocker, target)}, {"$addToSet": {"blockedBy": ObjectId(blocker)}}, session=session)

    await db.transaction(work)


async def unblock(db: Database, blocker: str, blocked: str) -> None:
    target = object_id(blocked, "user")

    async def work(session: AsyncClientSession) -> None:
        await db[COLLECTION].delete_one({"_id": _key(blocker, target)}, session=session)
        await db[ROOMS].update_one({"pairKey": direct_pair_key(blocker, target)}, {"$pull": {"blockedBy": ObjectId(blocker)}}, session=session)

    await db.transaction(work)


async def between(db: Database, first: str | ObjectId, second: str | ObjectId, session=None) -> bool:
    keys = [_key(first, second), _key(second, first)]
    return await db[COLLECTION].count_documents({"_id": {"$in": keys}}, session=session) > 0
