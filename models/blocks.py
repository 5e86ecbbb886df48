"""Users blocking users: no direct room and no direct messages between them, in either direction.

A block is a document of its own, since it can exist before the pair has a room;
`chat_rooms.block` also mirrors it onto their direct room. In group and task rooms a block
does not stop anyone from writing, but the blocker is not added to groups by the blocked
user, does not let them watch their presence, and is not pushed their messages.
"""

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock
from models.db import Database
from models.errors import AppError

COLLECTION = "blocks"


def _key(blocker: str | ObjectId, blocked: str | ObjectId) -> str:
    return f"{blocker}:{blocked}"


async def record(db: Database, session: AsyncClientSession, blocker: str, blocked: ObjectId) -> None:
    if str(blocked) == blocker:
        raise AppError("invalid_request", "You cannot block yourself.", {"fields": [{"field": "userId", "message": "is you", "type": "value_error"}]})
    await db[COLLECTION].update_one({"_id": _key(blocker, blocked)}, {"$setOnInsert": {"createdAt": clock.now()}}, upsert=True, session=session)


async def lift(db: Database, session: AsyncClientSession, blocker: str, blocked: ObjectId) -> None:
    await db[COLLECTION].delete_one({"_id": _key(blocker, blocked)}, session=session)


async def between(db: Database, session: AsyncClientSession | None, first: str | ObjectId, second: str | ObjectId) -> bool:
    keys = [_key(first, second), _key(second, first)]
    return await db[COLLECTION].count_documents({"_id": {"$in": keys}}, session=session) > 0


async def blockers_of(db: Database, session: AsyncClientSession | None, user: str | ObjectId, among: list[ObjectId]) -> set[ObjectId]:
    """Which of `among` have blocked `user` (one read by primary key)."""
    if not among:
        return set()
    found = db[COLLECTION].find({"_id": {"$in": [_key(other, user) for other in among]}}, {"_id": 1}, session=session)
    return {ObjectId(block["_id"].split(":", 1)[0]) async for block in found}
