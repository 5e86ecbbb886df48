"""Tasks and their status life: every change is a conditional update from the states that allow it.

    open → assigned → in_progress → submitted → completion_requested → completed
    any state before `completed` → cancelled

A task stays `open` while an offer is pending (`pendingOfferId`); one live offer per task is
enforced by the same conditional update that records it. `in_progress` follows
`assigned` at once when the task has `autoStart`.
"""

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import client_requests, clock, keywords, ledger, plans, roles, users
from models.client_requests import ClientRequest
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.pages import count
from models.plans import PlanPolicy

COLLECTION = "tasks"
STATUSES = ("open", "assigned", "in_progress", "submitted", "completion_requested", "completed", "cancelled")
CANCELLABLE = ("open", "assigned", "in_progress", "submitted", "completion_requested")
FUNDED = ("assigned", "in_progress", "submitted", "completion_requested")


def public(task: dict[str, Any], viewer: tuple[str, str] | None = None) -> dict[str, Any]:
    """A task as clients see it. Given a `(user id, role)` viewer who is neither a participant
    nor an admin, the delivery and the reasons are left out: they are the parties' business."""
    view = _view(task)
    if viewer is not None and not roles.is_admin(viewer[1]) and viewer[0] not in participants(task):
        view |= {"submission": None, "rejectionReason": None, "cancelReason": None}
    return view


def _view(task: dict[str, Any]) -> dict[str, Any]:
    submission = task.get("submission")
    return {
        "id": str(task["_id"]),
        "ownerId": str(task["ownerId"]),
        "title": task["title"],
        "description": task["description"],
        "budget": task["budget"],
        "currency": task["currency"],
        "tags": task["tags"],
        "deadline": task["deadline"].isoformat() if task.get("deadline") else None,
        "autoStart": task["autoStart"],
        "status": task["status"],
        "contractorId": _str(task.get("contractorId")),
        "offerId": _str(task.get("offerId")),
        "pendingOfferId": _str(task.get("pendingOfferId")),
        "submission": submission
        and {"note": submission["note"], "fileIds": [str(f) for f in submission["fileIds"]], "submittedAt": submission["submittedAt"].isoformat()},
        "rejectionReason": task.get("rejectionReason"),
        "cancelReason": task.get("cancelReason"),
        "createdAt": task["createdAt"].isoformat(),
        "updatedAt": task["updatedAt"].isoformat(),
        "rankedAt": task["rankedAt"].isoformat(),
    }


def _str(value: ObjectId | None) -> str | None:
    return str(value) if value else None


def participants(task: dict[str, Any]) -> list[str]:
    return [str(user) for user in (task["ownerId"], task.get("contractorId")) if user]


async def ensure_indexes(db: Database) -> None:
    """The searches' orderings (`models/search.py`) and each user's own tasks."""
    await db[COLLECTION].create_index([("status", 1), ("rankedAt", -1), ("_id", -1)])
    await db[COLLECTION].create_index([("tagKeys", 1), ("rankedAt", -1)])
    await db[COLLECTION].create_index("featuredUntil")
    await db[COLLECTION].create_index([("ownerId", 1), ("createdAt", -1)])
    await db[COLLECTION].create_index([("contractorId", 1), ("createdAt", -1)])
    await client_requests.ensure_index(db, COLLECTION)


async def backfill(db: Database) -> None:
    """Once, for data stored before ranking existed: tasks get `rankedAt` (their creation) and `tagKeys`, users their
    `completedTasks` count."""
    async for user in db[users.COLLECTION].find({"completedTasks": None}, {"_id": 1}):
        completed = await count(db[COLLECTION], {"status": "completed", "$or": [{"ownerId": user["_id"]}, {"contractorId": user["_id"]}]})
        await db[users.COLLECTION].update_one({"_id": user["_id"]}, {"$set": {"completedTasks": completed}})
    async for task in db[COLLECTION].find({"rankedAt": None}, {"createdAt": 1, "tags": 1}):
        await db[COLLECTION].update_one({"_id": task["_id"]}, {"$set": {"rankedAt": task["createdAt"], "tagKeys": keywords.keys(task["tags"])}})


async def create(
    db: Database,
    owner_id: str,
    *,
    title: str,
    description: str,
    budget: int,
    tags: list[str],
    deadline: datetime | None,
    auto_start: bool,
    request: ClientRequest | None = None,
    plan_policy: PlanPolicy | None = None,
) -> tuple[dict[str, Any], bool]:
    """`(task, created?)`: a retried request gets the task it created the first time; `plan_limit` past the owner's listings."""
    now = clock.now()
    task = {
        "_id": ObjectId(),
        "ownerId": ObjectId(owner_id),
        "title": title,
        "description": description,
        "budget": budget,
        "currency": ledger.CURRENCY,
        "tags": list(dict.fromkeys(tags)),
        "tagKeys": keywords.keys(tags),
        "deadline": deadline,
        "autoStart": auto_start,
        "status": "open",
        "contractorId": None,
        "offerId": None,
        "pendingOfferId": None,
        "createdAt": now,
        "updatedAt": now,
        "rankedAt": now,
        **client_requests.stamp(request),
    }

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        if plan_policy is not None:
            await require_listing_room(db, session, task["ownerId"], plan_policy)
        await db[COLLECTION].insert_one(task, session=session)
        return task

    return await client_requests.create_once(db, COLLECTION, request, work)


async def listings_of(db: Database, session: AsyncClientSession | None, owner_id: ObjectId) -> int:
    """Open listings: tasks the user owns that are not completed or cancelled."""
    return await count(db[COLLECTION], {"ownerId": owner_id, "status": {"$in": list(CANCELLABLE)}}, session)


async def partners_of(db: Database, session: AsyncClientSession | None, user_id: ObjectId) -> set[ObjectId]:
    """The distinct counterparties of the user's trades underway, as customer or contractor."""
    found = db[COLLECTION].find(
        {"$or": [{"ownerId": user_id}, {"contractorId": user_id}], "status": {"$in": list(FUNDED)}},
        {"ownerId": 1, "contractorId": 1},
        session=session,
    )
    return {task["contractorId"] if task["ownerId"] == user_id else task["ownerId"] async for task in found}


async def usage(db: Database, user_id: ObjectId) -> dict[str, int]:
    return {"listings": await listings_of(db, None, user_id), "partners": len(await partners_of(db, None, user_id))}


async def require_listing_room(db: Database, session: AsyncClientSession, owner_id: ObjectId, policy: PlanPolicy) -> None:
    owner = await plans.guard(db, session, owner_id)
    plans.refuse_listing(plans.tier_of(owner, policy), await listings_of(db, session, owner_id), policy)


async def require_partner_room(db: Database, session: AsyncClientSession, customer_id: ObjectId, contractor_id: ObjectId, policy: PlanPolicy) -> None:
    """Both sides' partner limits, in the transaction that would make them trade (offer sent, offer accepted)."""
    for user_id, other in ((customer_id, contractor_id), (contractor_id, customer_id)):
        user = await plans.guard(db, session, user_id)
        plans.refuse_partner(user_id, plans.tier_of(user, policy), await partners_of(db, session, user_id), other, policy)


async def get(db: Database, session: AsyncClientSession | None, task_id: str | ObjectId) -> dict[str, Any]:
    task = await db[COLLECTION].find_one({"_id": object_id(task_id, "task")}, session=session)
    if task is None:
        raise AppError("not_found", "No such task.")
    return task


async def watchable(db: Database, task_id: str, user_id: str, role: str) -> dict[str, Any]:
    """The task, if the caller may follow its changes live: its participants and admins; `forbidden` for others."""
    task = await get(db, None, task_id)
    if not roles.is_admin(role) and user_id not in participants(task):
        raise AppError("forbidden", "Only the task's participants and admins may watch it.")
    return task


async def start(db: Database, task_id: str, contractor_id: str) -> dict[str, Any]:
    """`assigned → in_progress`, by the assigned contractor."""
    return await db.transaction(
        lambda session: move(
            db,
            session,
            task_id,
            allowed=("assigned",),
            contractor_id=contractor_id,
            changes={"status": "in_progress"},
        )
    )


async def update(db: Database, task_id: str, owner_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` holds only what the owner sent; of those only `deadline` may be cleared with null."""
    changes = {field: value for field, value in changes.items() if value is not None or field == "deadline"}
    if "tags" in changes:
        changes = changes | {"tags": list(dict.fromkeys(changes["tags"])), "tagKeys": keywords.keys(changes["tags"])}
    return await db.transaction(
        lambda session: move(
            db,
            session,
            task_id,
            allowed=("open",),
            changes=changes,
            owner_id=owner_id,
        )
    )


async def move(
    db: Database,
    session: AsyncClientSession,
    task_id: str | ObjectId,
    *,
    allowed: tuple[str, ...],
    changes: dict[str, Any],
    owner_id: str | None = None,
    contractor_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply `changes` if the task is in one of the `allowed` states (and belongs to whom it must), else explain why not."""
    key = object_id(task_id, "task")
    query = {"_id": key, "status": {"$in": list(allowed)}, **(extra or {})}
    if owner_id is not None:
        query["ownerId"] = ObjectId(owner_id)
    if contractor_id is not None:
        query["contractorId"] = ObjectId(contractor_id)
    moved = await db[COLLECTION].find_one_and_update(
        query,
        {"$set": changes | {"updatedAt": clock.now()}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if moved is None:
        current = await get(db, session, key)
        if owner_id is not None and str(current["ownerId"]) != owner_id:
            raise AppError("forbidden", "Only the task's owner may do this.")
        if contractor_id is not None and str(current.get("contractorId")) != contractor_id:
            raise AppError("forbidden", "Only the task's assigned contractor may do this.")
        raise AppError("invalid_state", f"Not possible while the task is {current['status']}.", {"status": current["status"]})
    return moved
