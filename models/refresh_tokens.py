"""Rotating refresh tokens, stored only as SHA-256 hashes and grouped in families.

Each sign-in starts a session (`models.sessions`) whose id is the family; each refresh
uses up one token and issues the next one in the same family. Presenting a used token
means it was stolen (or replayed), so the whole family is revoked, and with it the
session: the thief's and the owner's sessions both end.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock, secret_tokens
from models.db import Database

COLLECTION = "refresh_tokens"


@dataclass(frozen=True, slots=True)
class Used:
    """What presenting a token came to: the stored token when it was live, or the family to end when it was reused."""

    token: dict[str, Any] | None
    reused_family: str | None = None


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index("family")
    await db[COLLECTION].create_index("userId")
    await db[COLLECTION].create_index("expiresAt", expireAfterSeconds=0)


async def issue(db: Database, session: AsyncClientSession, user_id: ObjectId, *, ttl_seconds: int, family: str) -> str:
    token, digest = secret_tokens.mint()
    now = clock.now()
    await db[COLLECTION].insert_one(
        {
            "_id": digest,
            "family": family,
            "userId": user_id,
            "createdAt": now,
            "expiresAt": now + timedelta(seconds=ttl_seconds),
            "usedAt": None,
            "revoked": False,
        },
        session=session,
    )
    return token


async def use(db: Database, session: AsyncClientSession, token: str) -> Used:
    """Mark a live token used; on reuse revoke its family. `Used.token` is None when the token must be refused."""
    stored = await db[COLLECTION].find_one({"_id": secret_tokens.digest(token)}, session=session)
    if stored is None or stored["revoked"] or stored["expiresAt"] <= clock.now():
        return Used(None)
    claimed = await db[COLLECTION].update_one(
        {"_id": stored["_id"], "usedAt": None, "revoked": False},
        {"$set": {"usedAt": clock.now()}},
        session=session,
    )
    if claimed.modified_count == 1:
        return Used(stored)
    await revoke_families(db, session, [stored["family"]])
    return Used(None, reused_family=stored["family"])


async def family_of(db: Database, session: AsyncClientSession, token: str) -> str | None:
    stored = await db[COLLECTION].find_one({"_id": secret_tokens.digest(token)}, {"family": 1}, session=session)
    return stored and stored["family"]


async def revoke_families(db: Database, session: AsyncClientSession, families: list[str]) -> None:
    await db[COLLECTION].update_many({"family": {"$in": families}}, {"$set": {"revoked": True}}, session=session)
