"""Signed-in sessions: one per sign-in, shared by the refresh-token family it started and every access token issued for it.

A session is live until it is revoked (logout, a reused refresh token, a promotion by
`create-admin`, …) or until its last refresh token expires (a TTL index removes it then).
Access tokens name their session (`sid`), and a socket or an HTTP bearer is accepted only
while that session is live, so revoking a session ends it everywhere at once.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock
from models.db import Database

COLLECTION = "sessions"


@dataclass(frozen=True, slots=True)
class SessionsEnded:
    """Effect: these sessions (and/or the sockets of these users) are over; their live sockets are told and closed."""

    reason: str
    session_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index("userId")
    await db[COLLECTION].create_index("expiresAt", expireAfterSeconds=0)


async def start(db: Database, session: AsyncClientSession, user_id: ObjectId, *, ttl_seconds: int, user_agent: str | None, ip: str | None) -> str:
    """A new live session for the user; its id is the family of the refresh tokens it will be renewed with."""
    now = clock.now()
    session_id = ObjectId()
    await db[COLLECTION].insert_one(
        {
            "_id": str(session_id),
            "userId": user_id,
            "createdAt": now,
            "lastUsedAt": now,
            "expiresAt": now + timedelta(seconds=ttl_seconds),
            "userAgent": (user_agent or "")[:300] or None,
            "ip": ip,
            "revokedAt": None,
        },
        session=session,
    )
    return str(session_id)


async def renewed(db: Database, session: AsyncClientSession, session_id: str, *, ttl_seconds: int) -> None:
    """A refresh used the session: it lives another refresh-token lifetime from now."""
    now = clock.now()
    await db[COLLECTION].update_one(
        {"_id": session_id},
        {"$set": {"lastUsedAt": now, "expiresAt": now + timedelta(seconds=ttl_seconds)}},
        session=session,
    )


async def find(db: Database, session_id: str) -> dict[str, Any] | None:
    return await db[COLLECTION].find_one({"_id": session_id})


def is_live(stored: dict[str, Any] | None, user_id: ObjectId) -> bool:
    return stored is not None and stored["revokedAt"] is None and stored["userId"] == user_id and stored["expiresAt"] > clock.now()


async def revoke(db: Database, session: AsyncClientSession, session_ids: list[str], reason: str) -> None:
    await db[COLLECTION].update_many(
        {"_id": {"$in": session_ids}, "revokedAt": None},
        {"$set": {"revokedAt": clock.now(), "revokedReason": reason}},
        session=session,
    )


def public(stored: dict[str, Any], current: str) -> dict[str, Any]:
    return {
        "id": stored["_id"], "createdAt": stored["createdAt"].isoformat(), "lastUsedAt": stored["lastUsedAt"].isoformat(),
        "userAgent": stored.get("userAgent"), "ip": stored.get("ip"), "current": stored["_id"] == current,
    }  # fmt: skip


async def of_user(db: Database, user_id: ObjectId) -> list[dict[str, Any]]:
    """The user's live sessions (their signed-in devices), most recently used first."""
    now = clock.now()
    return await db[COLLECTION].find({"userId": user_id, "revokedAt": None, "expiresAt": {"$gt": now}}).sort("lastUsedAt", -1).to_list()


async def live_of_user(db: Database, session: AsyncClientSession | None, user_id: ObjectId) -> list[str]:
    found = db[COLLECTION].find({"userId": user_id, "revokedAt": None}, {"_id": 1}, session=session)
    return [stored["_id"] async for stored in found]
