"""Single-use tokens sent by email (verify an address, reset a password): 256 bits, stored only as a SHA-256 hash.

A token is consumed by one conditional update (unused and unexpired), so two clicks on
one link succeed once. Expired tokens are removed by a TTL index.
"""

from datetime import timedelta

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock, secret_tokens
from models.db import Database
from models.pages import count

COLLECTION = "email_tokens"
VERIFY_EMAIL, RESET_PASSWORD = "verify_email", "reset_password"


RESET_REQUESTS = "password_reset_requests"
"""One document per `POST /api/auth/password/forgot`, kept an hour, to count them per email."""


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index("expiresAt", expireAfterSeconds=0)
    await db[RESET_REQUESTS].create_index("emailKey")
    await db[RESET_REQUESTS].create_index("at", expireAfterSeconds=3600)


async def count_reset_request(db: Database, session: AsyncClientSession, email_key: str) -> int:
    """Record one more reset request for this email; how many there were in the last hour, this one included."""
    now = clock.now()
    await db[RESET_REQUESTS].insert_one({"emailKey": email_key, "at": now}, session=session)
    return await count(db[RESET_REQUESTS], {"emailKey": email_key, "at": {"$gt": now - timedelta(hours=1)}}, session)


async def issue(db: Database, session: AsyncClientSession, user_id: ObjectId, purpose: str, *, ttl_seconds: float) -> str:
    token, digest = secret_tokens.mint()
    now = clock.now()
    await db[COLLECTION].insert_one(
        {"_id": digest, "userId": user_id, "purpose": purpose, "createdAt": now, "expiresAt": now + timedelta(seconds=ttl_seconds),
         "usedAt": None},
        session=session,
    )  # fmt: skip
    return token


async def consume(db: Database, session: AsyncClientSession, token: str, purpose: str) -> ObjectId | None:
    """The user the token was for, if it was unused and unexpired (it is used now); else None."""
    now = clock.now()
    used = await db[COLLECTION].find_one_and_update(
        {"_id": secret_tokens.digest(token), "purpose": purpose, "usedAt": None, "expiresAt": {"$gt": now}},
        {"$set": {"usedAt": now}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    return used["userId"] if used else None
