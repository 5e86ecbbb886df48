"""Approval queues' common step: a request leaves `pending` once, and whoever comes second is told why not."""

from collections.abc import Callable
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.pages import page_of


async def listing(
    db: Database,
    collection: str,
    public: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    status: str | None,
    page: int,
    limit: int,
    user_id: str | None = None,
) -> dict[str, Any]:
    """A queue's requests, newest first, optionally of one status (`pending` is what awaits an admin) or of one user."""
    query = ({"status": status} if status else {}) | ({"userId": ObjectId(user_id)} if user_id else {})
    found, pagination = await page_of(
        db[collection],
        query,
        sort=[("createdAt", -1), ("_id", -1)],
        page=page,
        limit=limit,
    )
    return {"requests": [public(request) for request in found], "pagination": pagination}


async def resolve(
    db: Database, session: AsyncClientSession, collection: str, request_id: str | ObjectId, admin_id: str, changes: dict[str, Any], what: str
) -> dict[str, Any]:
    """`pending →` the given state (a conditional update, so of two admins exactly one wins), else `invalid_state`."""
    key = object_id(request_id, what)
    resolved = await db[collection].find_one_and_update(
        {"_id": key, "status": "pending"},
        {"$set": changes | {"resolvedAt": clock.now(), "resolvedBy": ObjectId(admin_id)}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if resolved is None:
        current = await db[collection].find_one({"_id": key}, {"status": 1}, session=session)
        if current is None:
            raise AppError("not_found", f"No such {what}.")
        raise AppError("invalid_state", f"The request is already {current['status']}.", {"status": current["status"]})
    return resolved
