"""Contractors' applications to open tasks, one per contractor and task (a unique index says so)."""

from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from models import client_requests, clock, tasks
from models.client_requests import ClientRequest
from models.db import Database
from models.errors import AppError
from models.ids import object_id

COLLECTION = "applications"


def public(application: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(application["_id"]),
        "taskId": str(application["taskId"]),
        "contractorId": str(application["contractorId"]),
        "message": application["message"],
        "status": application["status"],
        "createdAt": application["createdAt"].isoformat(),
    }


def _applicant_key(task_id: ObjectId, contractor_id: ObjectId) -> str:
    return f"{task_id}:{contractor_id}"


async def ensure_indexes(db: Database) -> None:
    """One application per contractor and task is a single-field unique key (`applicantKey`): the embedded engine checks a
    compound unique index by scanning the whole collection on every insert. The `taskId` index serves listings and
    `update_many` (which the embedded engine scans without it). Applications stored before the key existed are not in
    the (sparse) unique index; the lookup in `apply` still finds them."""
    await db[COLLECTION].create_index("applicantKey", unique=True, sparse=True)
    await db[COLLECTION].create_index("taskId")
    await db[COLLECTION].create_index("contractorId")
    await client_requests.ensure_index(db, COLLECTION)


async def apply(
    db: Database, task_id: str, contractor_id: str, message: str, request: ClientRequest | None = None
) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """`(application, task, created?)`; only while the task is open, never to your own task, once per task.

    A retried request gets the application it created (`created` False).
    """
    application = {"_id": ObjectId(), "contractorId": ObjectId(contractor_id), "message": message, "status": "pending", "createdAt": clock.now()}
    key = object_id(task_id, "task")

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        task = await tasks.get(db, session, key)
        if str(task["ownerId"]) == contractor_id:
            raise AppError("forbidden", "You cannot apply to your own task.")
        if task["status"] != "open":
            raise AppError("invalid_state", f"Applications are closed: the task is {task['status']}.", {"status": task["status"]})
        if await db[COLLECTION].find_one({"taskId": task["_id"], "contractorId": application["contractorId"]}, {"_id": 1}, session=session):
            raise AppError("already_applied", "You have already applied to this task.")
        stored = application | {"taskId": task["_id"], "applicantKey": _applicant_key(task["_id"], application["contractorId"])}
        await db[COLLECTION].insert_one(stored | client_requests.stamp(request), session=session)
        return stored, task

    try:
        done, created = await client_requests.create_once(db, COLLECTION, request, work)
    except DuplicateKeyError:
        raise AppError("already_applied", "You have already applied to this task.") from None
    if created:
        return *done, True
    return done, await tasks.get(db, None, done["taskId"]), False


async def for_task(db: Database, task_id: str, owner_id: str) -> list[dict[str, Any]]:
    task = await tasks.get(db, None, task_id)
    if str(task["ownerId"]) != owner_id:
        raise AppError("forbidden", "Only the task's owner sees its applications.")
    return [public(found) async for found in db[COLLECTION].find({"taskId": task["_id"]}).sort("createdAt", 1)]


async def get(db: Database, session: AsyncClientSession, application_id: str) -> dict[str, Any]:
    found = await db[COLLECTION].find_one({"_id": object_id(application_id, "application")}, session=session)
    if found is None:
        raise AppError("not_found", "No such application.")
    return found


async def set_status(db: Database, session: AsyncClientSession, application_id: ObjectId, status: str) -> None:
    await db[COLLECTION].update_one({"_id": application_id}, {"$set": {"status": status}}, session=session)


async def close_others(db: Database, session: AsyncClientSession, task_id: ObjectId, accepted_id: ObjectId) -> None:
    await db[COLLECTION].update_many(
        {"taskId": task_id, "_id": {"$ne": accepted_id}, "status": {"$in": ["pending", "offered"]}},
        {"$set": {"status": "closed"}},
        session=session,
    )
