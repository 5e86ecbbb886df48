"""Rotating refresh tokens, stored only as SHA-256 hashes and grouped in families.

Each sign-in starts a family; each refresh uses up one token and issues the next
one in the same family. Presenting a used token means it was stolen (or replayed),
so the whole family is revoked and the thief's and the owner's sessions both end.
"""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock
from models.db import Database

COLLECTION = "refresh_tokens"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index("family")
    await db[COLLECTION].create_index("expiresAt", expireAfterSeconds=0)


async def issue(db: Database, session: AsyncClientSession, user_id: ObjectId, *, ttl_seconds: int, family: str | None = None) -> str:
    token = secrets.token_urlsafe(32)
    now = clock.now()
    await db[COLLECTION].insert_one({
        "_id": _digest(token),
        "family": family or secrets.token_hex(16),
        "userId": user_id,
        "createdAt": now,
        "expiresAt": now + timedelta(seconds=ttl_seconds),
        "usedAt": None,
        "revoked": False,
    }, session=session)
    return token


async def use(db: Database, session: AsyncClientSession, token: str) -> dict[str, Any] | None:
    """Mark a live token used and return it; on reuse revoke its family. None means refuse."""
    stored = await db[COLLECTION].find_one({"_id": _digest(token)}, session=session)
    if stored is None or stored["revoked"] or stored["expiresAt"] <= clock.now():
        return None
    claimed = await db[COLLECTION].update_one(
        {"_id": stored["_id"], "usedAt": None, "revoked": False},
        {"$set": {"usedAt": clock.now()}}, session=session,
    )
    if claimed.modified_count == 1:
        return stored
    await revoke_family(db, session, stored["family"])
    return None


async def revoke_family_of(db: Database, session: AsyncClientSession, token: str) -> None:
    stored = await db[COLLECTION].find_one({"_id": _digest(token)}, session=session)
    if stored is not None:
        await revoke_family(db, session, stored["family"])


async def revoke_family(db: Database, session: AsyncClientSession, family: str) -> None:
    await db[COLLECTION].update_many({"family": family}, {"$set": {"revoked": True}}, session=session)
