"""Listing boosts: a `bump` moves an open task to the top of the default ordering once; `featured` shows it in the
featured block of matching searches for a while. Paid from the owner's wallet to `platform:revenue` (ledger type
`boost_purchase`) or with one Elite boost credit.

What a boost does lives on the task, where the searches read it: `rankedAt` (a bump sets it to now),
`featuredUntil` (featuring sets or extends it), `bumpedAt` (the cooldown), `boostedUntil` (the latest end of any of its
boosts, so `task:get` counts views only while one runs). Every query compares those times with now, so a boost ends
when its time is up without any job, and a task that leaves `open` leaves the featured block at once. A boost's
window is `[startsAt, endsAt)`: for `featured`, the time it is featured (buying again while active extends it from the
current end); for a `bump`, until the next bump may be bought (`BUMP_COOLDOWN_SECONDS`). Boost money is not refunded
when the task is cancelled.
"""

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import client_requests, clock, ledger, tasks, users
from models.client_requests import ClientRequest
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.pages import page_of

COLLECTION = "boosts"
BUMP, FEATURED = "bump", "featured"
TYPES = (BUMP, FEATURED)
WALLET, CREDIT = "wallet", "credit"


@dataclass(frozen=True, slots=True)
class BoostPolicy:
    bump_cooldown_seconds: float
    featured_seconds: float
    bump_price: int
    featured_price: int
    featured_slots: int

    def price_of(self, kind: str) -> int:
        return self.bump_price if kind == BUMP else self.featured_price


def public(boost: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(boost["_id"]), "taskId": str(boost["taskId"]), "type": boost["type"], "source": boost["source"],
        "startsAt": boost["startsAt"].isoformat(), "endsAt": boost["endsAt"].isoformat(), "price": boost["price"],
        "impressions": boost.get("impressions", 0), "views": boost.get("views", 0), "createdAt": boost["createdAt"].isoformat(),
    }  # fmt: skip


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index([("ownerId", 1), ("createdAt", -1)])
    await db[COLLECTION].create_index("taskId")
    await client_requests.ensure_index(db, COLLECTION)


async def buy(
    db: Database, task_id: str, owner_id: str, kind: str, *, use_credit: bool, policy: BoostPolicy, request: ClientRequest | None
) -> tuple[dict[str, Any], dict[str, Any] | None, bool]:
    """`(boost, task after, created?)`. A retried request gets its first boost back and pays nothing again (then the task
    is None: read it fresh)."""
    boost_id = ObjectId()

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        now = clock.now()
        task = await tasks.get(db, session, task_id)
        if str(task["ownerId"]) != owner_id:
            raise AppError("forbidden", "Only the task's owner can boost it.")
        if task["status"] != "open":
            raise AppError("invalid_state", "Only an open task can be boosted.", {"status": task["status"]})
        starts, ends, changes, condition = (_bump if kind == BUMP else _feature)(task, now, policy)
        changes["boostedUntil"] = max(ends, task.get("boostedUntil") or ends)
        moved = await tasks.move(db, session, task["_id"], allowed=("open",), extra=condition, changes=changes)
        price = 0 if use_credit else policy.price_of(kind)
        boost = {
            "_id": boost_id, "taskId": task["_id"], "ownerId": task["ownerId"], "type": kind, "source": CREDIT if use_credit else WALLET,
            "price": price, "startsAt": starts, "endsAt": ends, "impressions": 0, "views": 0, "createdAt": now,
            **client_requests.stamp(request),
        }  # fmt: skip
        if use_credit:
            await _spend_credit(db, session, task["ownerId"], now)
        else:
            await ledger.post(
                db,
                session,
                key=f"boost:{boost_id}",
                type="boost_purchase",
                entries=[ledger.Entry(ledger.wallet(task["ownerId"]), -price), ledger.Entry(ledger.REVENUE, price)],
                refs={"boostId": boost_id, "taskId": task["_id"]},
            )
        await db[COLLECTION].insert_one(boost, session=session)
        return boost, moved

    found, created = await client_requests.create_once(db, COLLECTION, request, work)
    return (found[0], found[1], True) if created else (found, None, False)


def _bump(task: dict[str, Any], now, policy: BoostPolicy) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """`(starts, ends, changes, condition)`: once per cooldown; the condition on `bumpedAt` makes two racing bumps one."""
    cooldown = timedelta(seconds=policy.bump_cooldown_seconds)
    last = task.get("bumpedAt")
    if last is not None and (wait := (last + cooldown - now).total_seconds()) > 0:
        raise AppError("rate_limited", "This task was bumped recently.", {"retryAfter": math.ceil(wait)})
    return now, now + cooldown, {"rankedAt": now, "bumpedAt": now}, {"bumpedAt": last}


def _feature(task: dict[str, Any], now, policy: BoostPolicy) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """`(starts, ends, changes, condition)`: featured again while featured, the new period starts where the current one ends."""
    current = task.get("featuredUntil")
    starts = current if current is not None and current > now else now
    ends = starts + timedelta(seconds=policy.featured_seconds)
    return starts, ends, {"featuredUntil": ends}, {"featuredUntil": current}


async def _spend_credit(db: Database, session: AsyncClientSession, user_id: ObjectId, now) -> None:
    spent = await db[users.COLLECTION].update_one(
        {"_id": user_id, "boostCredits.count": {"$gt": 0}, "boostCredits.expiresAt": {"$gt": now}},
        {"$inc": {"boostCredits.count": -1}},
        session=session,
    )
    if spent.modified_count != 1:
        raise AppError("no_credits", "You have no boost credits left this period (Elite grants them with each paid month).")


async def listing(db: Database, owner_id: str, task_id: str | None, *, page: int, limit: int) -> dict[str, Any]:
    query: dict[str, Any] = {"ownerId": object_id(owner_id, "user")}
    if task_id is not None:
        query["taskId"] = object_id(task_id, "task")
    found, pagination = await page_of(db[COLLECTION], query, sort=[("createdAt", -1), ("_id", -1)], page=page, limit=limit)
    return {"boosts": [public(boost) for boost in found], "pagination": pagination}


async def count_view(db: Database, task: dict[str, Any], viewer_id: str) -> None:
    """`task:get` by someone other than the owner counts a view for each of the task's boosts running now."""
    now = clock.now()
    if str(task["ownerId"]) == viewer_id or (task.get("boostedUntil") or now) <= now:
        return
    await db.transaction(
        lambda session: db[COLLECTION].update_many(
            {"taskId": task["_id"], "startsAt": {"$lte": now}, "endsAt": {"$gt": now}}, {"$inc": {"views": 1}}, session=session
        )
    )


async def count_impressions(db: Database, session: AsyncClientSession, task_ids: list[ObjectId], now) -> None:
    """The tasks were shown in a featured block: their running featured boosts count an impression."""
    for task_id in task_ids:
        running = {"taskId": task_id, "type": FEATURED, "startsAt": {"$lte": now}, "endsAt": {"$gt": now}}
        await db[COLLECTION].update_many(running, {"$inc": {"impressions": 1}}, session=session)
