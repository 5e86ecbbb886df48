"""Users blocking users: no direct room and no direct messages between them, in either direction."""

from bson import ObjectId

from models import clock
from models.db import Database
from models.errors import AppError
from models.ids import object_id

COLLECTION = "blocks"


def _key(blocker: str | ObjectId, blocked: str | ObjectId) -> str:
    return f"{blocker}:{blocked}"


async def block(db: Database, blocker: str, blocked: str) -> None:
    target = object_id(blocked, "user")
    if str(target) == blocker:
        raise AppError("invalid_request", "You cannot block yourself.", {"fields": [{"field": "userId", "message": "is you", "type": "value_error"}]})
    await db.transaction(lambda session: db[COLLECTION].update_one(
        {"_id": _key(blocker, target)}, {"$setOnInsert": {"createdAt": clock.now()}}, upsert=True, session=session,
    ))


async def unblock(db: Database, blocker: str, blocked: str) -> None:
    await db.transaction(lambda session: db[COLLECTION].delete_one({"_id": _key(blocker, blocked)}, session=session))


async def between(db: Database, first: str | ObjectId, second: str | ObjectId, session=None) -> bool:
    keys = [_key(first, second), _key(second, first)]
    return await db[COLLECTION].count_documents({"_id": {"$in": keys}}, session=session) > 0
