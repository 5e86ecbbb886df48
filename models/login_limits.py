"""Failed sign-in counting per email and per client address, in a sliding window.

Failures live in MongoDB (with a TTL index) rather than process memory so that every
server process behind a load balancer sees the same count.
"""

from datetime import timedelta

from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock
from models.db import Database
from models.errors import AppError

COLLECTION = "login_failures"


async def ensure_indexes(db: Database, window_seconds: int) -> None:
    await db[COLLECTION].create_index([("key", 1), ("at", 1)])
    await db[COLLECTION].create_index("at", expireAfterSeconds=window_seconds)


async def check(db: Database, limits: dict[str, int], window_seconds: int) -> None:
    """Refuse when any key (`email:…`, `ip:…`) reached its limit of failures in the window."""
    since = clock.now() - timedelta(seconds=window_seconds)
    for key, limit in limits.items():
        recent = db[COLLECTION].find({"key": key, "at": {"$gt": since}}, {"at": 1}).sort("at", -1).limit(limit)
        failures = [document["at"] async for document in recent]
        if len(failures) >= limit:
            retry_after = max(1, int((failures[-1] - since).total_seconds()) + 1)
            raise AppError("rate_limited", "Too many failed sign-in attempts; try again later.", {"retryAfter": retry_after})


async def record_failure(db: Database, session: AsyncClientSession, keys: list[str]) -> None:
    now = clock.now()
    await db[COLLECTION].insert_many([{"key": key, "at": now} for key in keys], session=session)


async def clear(db: Database, session: AsyncClientSession, key: str) -> None:
    await db[COLLECTION].delete_many({"key": key}, session=session)
