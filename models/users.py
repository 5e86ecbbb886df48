"""User documents: identity, role and public profile."""

import re
import secrets
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from models import clock, keywords, roles
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.pages import page_of

COLLECTION = "users"
REFERRAL_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def email_key(email: str) -> str:
    """Emails are unique case-insensitively; this is the form the unique index holds."""
    return email.strip().lower()


def public(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(user["_id"]),
        "name": user["name"],
        "email": user["email"],
        "role": user["role"],
        "bio": user.get("bio", ""),
        "skills": user.get("skills", []),
        "emailVerified": bool(user.get("emailVerified")),
        "referralCode": user["referralCode"],
        "createdAt": user["createdAt"].isoformat(),
    }


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index("emailKey", unique=True)
    await db[COLLECTION].create_index("firebase.uid", unique=True, sparse=True)
    await db[COLLECTION].create_index("referralCode", unique=True, sparse=True)
    await db[COLLECTION].create_index("referral.by", sparse=True)
    await db[COLLECTION].create_index([("role", 1), ("skillKeys", 1)])


async def backfill(db: Database) -> None:
    """Once, for users stored before search and referrals existed: their `skillKeys` and a `referralCode` (their
    `completedTasks` come from `models/tasks.backfill`)."""
    async for user in db[COLLECTION].find({"referralCode": None}, {"skills": 1}):
        fields = {"referralCode": new_referral_code(), "skillKeys": keywords.keys(user.get("skills", []))}
        await db[COLLECTION].update_one({"_id": user["_id"]}, {"$set": fields})


def new_referral_code() -> str:
    """8 characters from an alphabet without look-alikes (no 0/O, 1/I/L); 31^8 codes, unique by index."""
    return "".join(secrets.choice(REFERRAL_ALPHABET) for _ in range(8))


async def insert(
    db: Database, session: AsyncClientSession, *, name: str, email: str, password_hash: bytes | None, role: str, referred_by: ObjectId | None = None
) -> dict[str, Any]:
    """A new user; `password_hash` None for one who signs in only through Firebase (until a password reset gives them one);
    `referred_by` the user whose referral code they came with (`models/referrals.py`)."""
    user = {
        "_id": ObjectId(),
        "name": name,
        "email": email.strip(),
        "emailKey": email_key(email),
        "passwordHash": password_hash,
        "role": role,
        "bio": "",
        "skills": [],
        "skillKeys": [],
        "completedTasks": 0,
        "referralCode": new_referral_code(),
        "createdAt": clock.now(),
    }
    if referred_by is not None:
        user["referral"] = {"by": referred_by, "qualifiedAt": None, "referredPaid": False, "referrerPaid": False}
    try:
        await db[COLLECTION].insert_one(user, session=session)
    except DuplicateKeyError as error:
        if "emailKey" not in str(error):
            raise
        raise AppError("email_taken", "An account with this email already exists.") from None
    return user


async def find_by_email(db: Database, session: AsyncClientSession | None, email: str) -> dict[str, Any] | None:
    return await db[COLLECTION].find_one({"emailKey": email_key(email)}, session=session)


async def find(db: Database, user_id: ObjectId) -> dict[str, Any] | None:
    """What deciding on a session needs: the stored role and the frozen flag."""
    return await db[COLLECTION].find_one({"_id": user_id}, {"role": 1, "frozen": 1})


def suspended(user: dict[str, Any]) -> bool:
    """A frozen admin keeps the account but not the admin rights: their tokens are refused until unfrozen."""
    return roles.is_admin(user["role"]) and bool(user.get("frozen"))


async def link_firebase(
    db: Database, session: AsyncClientSession, user_id: ObjectId, uid: str, provider: str | None, *, verified: bool
) -> dict[str, Any]:
    """Remember the Firebase user (and the provider used) on the account; an email the provider vouches for counts as verified."""
    changes: dict[str, Any] = {"$set": {"firebase.uid": uid} | ({"emailVerified": True} if verified else {})}
    if provider:
        changes["$addToSet"] = {"firebase.providers": provider}
    return await db[COLLECTION].find_one_and_update({"_id": user_id}, changes, return_document=ReturnDocument.AFTER, session=session)


async def mark_verified(db: Database, session: AsyncClientSession, user_id: ObjectId) -> dict[str, Any]:
    """The user with `emailVerified` set (once: verifying again changes nothing)."""
    return await db[COLLECTION].find_one_and_update(
        {"_id": user_id}, {"$set": {"emailVerified": True}}, return_document=ReturnDocument.AFTER, session=session
    )


async def get(db: Database, user_id: str) -> dict[str, Any]:
    user = await db[COLLECTION].find_one({"_id": object_id(user_id, "user")})
    if user is None:
        raise AppError("not_found", "No such user.")
    return user


async def update_profile(db: Database, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Skills are kept as a set in the order given, so a profile never lists one twice."""
    if "skills" in changes:
        changes = changes | {"skills": list(dict.fromkeys(changes["skills"])), "skillKeys": keywords.keys(changes["skills"])}

    async def work(session: AsyncClientSession) -> dict[str, Any] | None:
        return await db[COLLECTION].find_one_and_update(
            {"_id": object_id(user_id, "user")},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
            session=session,
        )

    user = await db.transaction(work) if changes else await db[COLLECTION].find_one({"_id": object_id(user_id, "user")})
    if user is None:
        raise AppError("not_found", "No such user.")
    return user


async def search(db: Database, text: str | None, extra: dict[str, Any], *, page: int, limit: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Users whose name or email contains `text` (case-insensitive), newest first, narrowed by `extra` (a filter)."""
    query = dict(extra)
    if text:
        pattern = {"$regex": re.escape(text), "$options": "i"}
        query = {"$and": [query, {"$or": [{"name": pattern}, {"emailKey": pattern}]}]}
    return await page_of(db[COLLECTION], query, sort=[("createdAt", -1), ("_id", -1)], page=page, limit=limit)
