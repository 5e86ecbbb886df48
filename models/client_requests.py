"""Retries that are safe: a client's `clientRequestId` is stamped on whatever its request created, in the same transaction.

A request is identified per caller and event (`ClientRequest.key`), and its payload by a
digest. Sending it again finds what the first one made (`earlier`) and gets that back,
with nothing new written or pushed; the same id with another payload is
`idempotency_conflict`. The stamp lives on the created document itself (`clientRequest`,
unique), so it is kept as long as the document, which is at least the 24 hours a client
may retry for, and two racing retries cannot both create: the second finds the first, or
meets the unique index and then finds it.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from models.db import Database
from models.errors import AppError

FIELD = "clientRequest"


@dataclass(frozen=True, slots=True)
class ClientRequest:
    key: str
    """`<event>:<user id>:<clientRequestId>`."""
    digest: str
    """SHA-256 of the payload without `clientRequestId`, canonically serialized."""

    @classmethod
    def of(cls, event: str, user_id: str, client_request_id: str, payload: dict[str, Any]) -> "ClientRequest":
        body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        return cls(f"{event}:{user_id}:{client_request_id}", hashlib.sha256(body).hexdigest())


def stamp(request: ClientRequest | None) -> dict[str, Any]:
    """The fields to add to the created document."""
    return {FIELD: {"key": request.key, "digest": request.digest}} if request is not None else {}


async def ensure_index(db: Database, collection: str) -> None:
    await db[collection].create_index(f"{FIELD}.key", unique=True, sparse=True)


async def earlier(db: Database, session: AsyncClientSession | None, collection: str, request: ClientRequest | None) -> dict[str, Any] | None:
    """The document this request already created, or None; `idempotency_conflict` when the payload differs."""
    if request is None:
        return None
    found = await db[collection].find_one({f"{FIELD}.key": request.key}, session=session)
    if found is not None and found[FIELD]["digest"] != request.digest:
        raise AppError("idempotency_conflict", "This clientRequestId was already used with a different payload.")
    return found


def lost_race(error: DuplicateKeyError) -> bool:
    """A racing retry committed first: the unique stamp refused this one."""
    return f"{FIELD}.key" in ((error.details or {}).get("keyPattern") or {}) or f"{FIELD}.key" in str(error)


async def create_once[T](db: Database, collection: str, request: ClientRequest | None, work) -> tuple[T | dict[str, Any], bool]:
    """`(work's result, True)` from one transaction, or `(the document this request created before, False)`.

    `work(session)` must stamp what it inserts into `collection` with `stamp(request)`.
    """

    async def guarded(session: AsyncClientSession) -> tuple[T | dict[str, Any], bool]:
        found = await earlier(db, session, collection, request)
        if found is not None:
            return found, False
        return await work(session), True

    try:
        return await db.transaction(guarded)
    except DuplicateKeyError as error:
        if request is None or not lost_race(error):
            raise
    return await earlier(db, None, collection, request), False
