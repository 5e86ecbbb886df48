"""Every user-directed push, stored, so a client that was offline catches up after reconnecting.

Kept for 90 days (a TTL index removes older ones).
"""

from typing import Any

from bson import ObjectId

from models import clock
from models.db import Database
from models.pages import count, page_of

COLLECTION = "notifications"
TTL_SECONDS = 90 * 24 * 3600


def public(notification: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(notification["_id"]),
        "event": notification["event"],
        "data": notification["data"],
        "read": notification["read"],
        "createdAt": notification["createdAt"].isoformat(),
    }


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index([("userId", 1), ("createdAt", -1)])
    await db[COLLECTION].create_index("createdAt", expireAfterSeconds=TTL_SECONDS)


async def store(db: Database, user_ids: list[str], event: str, data: dict[str, Any]) -> None:
    now = clock.now()
    documents = [{"userId": ObjectId(user), "event": event, "data": data, "read": False, "createdAt": now} for user in user_ids]
    if documents:
        await db.transaction(lambda session: db[COLLECTION].insert_many(documents, session=session))


async def listing(db: Database, user_id: str, *, unread_only: bool, page: int, limit: int) -> dict[str, Any]:
    mine = {"userId": ObjectId(user_id)}
    found, pagination = await page_of(
        db[COLLECTION], mine | ({"read": False} if unread_only else {}), sort=[("createdAt", -1), ("_id", -1)], page=page, limit=limit
    )
    unread = await count(db[COLLECTION], mine | {"read": False})
    return {"notifications": [public(item) for item in found], "pagination": pagination, "unreadCount": unread}


async def mark_read(db: Database, user_id: str, ids: list[str]) -> int:
    """Only the caller's own notifications change; unknown ids are ignored."""
    keys = [ObjectId(value) for value in ids if ObjectId.is_valid(value)]
    changed = await db.transaction(
        lambda session: db[COLLECTION].update_many(
            {"_id": {"$in": keys}, "userId": ObjectId(user_id), "read": False},
            {"$set": {"read": True}},
            session=session,
        )
    )
    return changed.modified_count
