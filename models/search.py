"""Finding tasks and people: `task:list`'s ranking with its featured block, skill-matched recommendations, and contractor
search.

- **Default ordering** is `rankedAt` descending (creation, or the last bump), ties by id descending, so paging never
  repeats or skips. Page 1 of a browse (not `mine`) starts with a featured block: at most `FEATURED_SLOTS` open tasks
  whose featured boost runs now and that match every filter, least recently shown first, then least often (each showing
  is recorded, so featured tasks take turns), marked `featured`. The organic part of page 1 leaves out the tasks in the block; page 2
  continues the organic order where page 1's window ended, so nothing is repeated or skipped.
- **Recommended tasks** for a contractor: open tasks not their own and not applied to, ordered by how many of the
  task's tags are among the contractor's skills (case-insensitive), then featured ones, then `rankedAt`. The tasks
  that share a skill are few enough to rank in memory; the rest come from the database in the default ordering.
- **Contractor search**: contractors whose skills share a tag (most shared first) or whose name or bio contains the
  text; among equals Elite first, then identity-verified, then most completed tasks.
"""

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bson import ObjectId

from models import applications, boosts, clock, keywords, payout_accounts, plans, profiles, roles, tasks, users
from models.db import Database
from models.errors import AppError
from models.pages import count, page_of, pagination
from models.plans import PlanPolicy

ORGANIC = [("rankedAt", -1), ("_id", -1)]
MAX_CANDIDATES = 5_000
"""Tasks sharing a skill (or contractors sharing a tag) ranked in memory at most; past that, the newest of them."""


def listed(task: dict[str, Any], viewer: tuple[str, str], *, featured: bool, matched: list[str] | None = None) -> dict[str, Any]:
    view = tasks.public(task, viewer) | {
        "featured": featured,
        "boost": {"type": boosts.FEATURED, "endsAt": task["featuredUntil"].isoformat()} if featured else None,
    }
    return view if matched is None else view | {"matchedSkills": matched}


def _filters(status: str | None, tags: list[str], text: str | None) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if status:
        query["status"] = status
    if tags:
        query["tagKeys"] = {"$in": keywords.keys(tags)}
    if text:
        pattern = {"$regex": re.escape(text), "$options": "i"}
        query["$or"] = [{"title": pattern}, {"description": pattern}]
    return query


async def task_page(
    db: Database, viewer: tuple[str, str], *, status: str | None, tags: list[str], text: str | None, mine: bool, page: int, limit: int, slots: int
) -> dict[str, Any]:
    """`task:list`: see the module doc. `mine` lists the caller's own tasks, newest created first, with no featured block."""
    query = _filters(status, tags, text)
    if mine:
        query["$and"] = [{"$or": [{"ownerId": ObjectId(viewer[0])}, {"contractorId": ObjectId(viewer[0])}]}]
        found, pages = await page_of(db[tasks.COLLECTION], query, sort=[("createdAt", -1), ("_id", -1)], page=page, limit=limit)
        return {"tasks": [listed(task, viewer, featured=False) for task in found], "pagination": pages}
    block = await featured_block(db, query, slots) if page == 1 and status in (None, "open") else []
    shown = {task["_id"] for task in block}
    found, pages = await page_of(db[tasks.COLLECTION], query, sort=ORGANIC, page=page, limit=limit)
    items = [listed(task, viewer, featured=True) for task in block]
    items += [listed(task, viewer, featured=False) for task in found if task["_id"] not in shown]
    return {"tasks": items, "pagination": pages}


async def featured_block(db: Database, query: dict[str, Any], slots: int) -> list[dict[str, Any]]:
    """The featured tasks matching `query` to show now, least recently shown first (of those shown together, the one shown
    fewer times); their showing is recorded."""
    if slots <= 0:
        return []
    now = clock.now()
    running = query | {"status": "open", "featuredUntil": {"$gt": now}}
    turns = [("featuredShownAt", 1), ("featuredShows", 1), ("_id", 1)]
    chosen = await db[tasks.COLLECTION].find(running).sort(turns).limit(slots).to_list()
    if chosen:
        ids = [task["_id"] for task in chosen]

        async def record(session) -> None:
            for task_id in ids:
                await db[tasks.COLLECTION].update_one(
                    {"_id": task_id}, {"$set": {"featuredShownAt": now}, "$inc": {"featuredShows": 1}}, session=session
                )
            await boosts.count_impressions(db, session, ids, now)

        await db.transaction(record)
    return chosen


def _is_featured(task: dict[str, Any], now: datetime) -> bool:
    return task["status"] == "open" and task.get("featuredUntil") is not None and task["featuredUntil"] > now


def task_rank(task: dict[str, Any], skill_keys: Iterable[str], now: datetime) -> tuple[int, bool]:
    """A recommended task's sort key (ascending): more of the contractor's skills among its tags, then featured."""
    return -len(set(skill_keys) & set(task.get("tagKeys", []))), not _is_featured(task, now)


def contractor_rank(user: dict[str, Any], wanted_keys: Iterable[str], policy: PlanPolicy) -> tuple[int, bool, bool, int]:
    """A contractor's sort key (ascending): more of the wanted tags among their skills, then Elite, then identity-verified,
    then more completed tasks."""
    elite = plans.tier_of(user, policy) == plans.ELITE
    verified = payout_accounts.identity_verified(user)
    return -len(set(wanted_keys) & set(user.get("skillKeys", []))), not elite, not verified, -user.get("completedTasks", 0)


async def recommended(db: Database, contractor_id: str, *, page: int, limit: int) -> dict[str, Any]:
    """`task:recommended`: see the module doc. Each item carries `matchedSkills` (the caller's skills, as they wrote them).

    Written for what both engines do well: a few queries on single conditions that indexes serve (`tagKeys`,
    `featuredUntil`, `status` + `rankedAt`), with the exclusions (own tasks, applied ones) applied here rather than as
    `$ne`/`$nin` conditions, and documents fetched by id one at a time (the embedded engine scans for `_id: {$in}`)."""
    user = await users.get(db, contractor_id)
    skills = {keywords.key(skill): skill for skill in reversed(user.get("skills", []))}
    applied = await _applied_tasks(db, user["_id"])
    now = clock.now()
    collection = db[tasks.COLLECTION]
    fields = {"tagKeys": 1, "rankedAt": 1, "featuredUntil": 1, "status": 1, "ownerId": 1}

    def eligible(task: dict[str, Any]) -> bool:
        return task["_id"] not in applied and task["ownerId"] != user["_id"]

    matching: list[dict[str, Any]] = []
    if skills:
        found = await collection.find({"status": "open", "tagKeys": {"$in": list(skills)}}, fields).sort(ORGANIC).limit(MAX_CANDIDATES).to_list()
        matching = sorted(filter(eligible, found), key=lambda task: task_rank(task, skills, now))  # stable: ties keep the default order
    matched = {task["_id"] for task in matching}
    running = await collection.find({"status": "open", "featuredUntil": {"$gt": now}}, fields).sort(ORGANIC).to_list()
    promoted = [task for task in running if eligible(task) and task["_id"] not in matched]
    head = [task["_id"] for task in matching + promoted]
    left_out = set(head) | set(applied)
    start = (page - 1) * limit
    window = head[start : start + limit]
    if len(window) < limit:
        offset = max(start - len(head), 0)
        wanted = offset + limit - len(window)
        stream = collection.find({"status": "open"}, {"_id": 1, "ownerId": 1}).sort(ORGANIC).limit(wanted + len(left_out))
        ordinary = [task["_id"] async for task in stream if task["_id"] not in left_out and task["ownerId"] != user["_id"]]
        window += ordinary[offset:wanted]
    viewer = (contractor_id, user["role"])
    items = []
    for task_id in window:
        task = await collection.find_one({"_id": task_id})
        items.append(listed(task, viewer, featured=_is_featured(task, now), matched=[skills[key] for key in task["tagKeys"] if key in skills]))
    total = await count(collection, {"status": "open"}) - sum(1 for status in applied.values() if status == "open")
    return {"tasks": items, "pagination": pagination(page, limit, total)}


async def _applied_tasks(db: Database, contractor_id: ObjectId) -> dict[ObjectId, str | None]:
    """The tasks the contractor applied to, with the status of those that may still be open (an accepted or closed
    application's task is not)."""
    found = db[applications.COLLECTION].find({"contractorId": contractor_id}, {"taskId": 1, "status": 1})
    applied: dict[ObjectId, str | None] = {}
    async for application in found:
        if application["status"] in ("accepted", "closed"):
            applied[application["taskId"]] = None
        else:
            task = await db[tasks.COLLECTION].find_one({"_id": application["taskId"]}, {"status": 1})
            applied[application["taskId"]] = task and task["status"]
    return applied


async def contractors(
    db: Database, policy: PlanPolicy, *, tags: list[str], text: str | None, exclude: list[ObjectId], page: int, limit: int
) -> dict[str, Any]:
    """`users:search` and `task:candidates`: see the module doc. Items are public profiles with `matchedSkills`."""
    keys = keywords.keys(tags)
    base: dict[str, Any] = {"role": roles.CONTRACTOR}
    wanted = []
    if keys:
        wanted.append({"skillKeys": {"$in": keys}})
    if text:
        pattern = {"$regex": re.escape(text), "$options": "i"}
        wanted += [{"name": pattern}, {"bio": pattern}]
    query = base | ({"$or": wanted} if wanted else {})
    fields = {"skillKeys": 1, "subscription": 1, "payouts.status": 1, "completedTasks": 1}
    left_out = set(exclude)
    found = [
        user
        for user in await db[users.COLLECTION].find(query, fields).sort([("_id", -1)]).limit(MAX_CANDIDATES).to_list()
        if user["_id"] not in left_out
    ]
    wanted_keys = set(keys)
    found.sort(key=lambda user: contractor_rank(user, wanted_keys, policy))  # stable: equals stay newest first
    items = []
    for user_id in [user["_id"] for user in found[(page - 1) * limit : page * limit]]:
        user = await db[users.COLLECTION].find_one({"_id": user_id})
        matched = [skill for skill in user.get("skills", []) if keywords.key(skill) in wanted_keys]
        items.append(profiles.view(user, policy) | {"matchedSkills": matched})
    return {"users": items, "pagination": pagination(page, limit, len(found))}


async def candidates(db: Database, task_id: str, owner_id: str, policy: PlanPolicy, *, limit: int) -> dict[str, Any]:
    """`task:candidates`: contractors for the task's tags, leaving out who already applied (see `task:applications`)."""
    task = await tasks.get(db, None, task_id)
    if str(task["ownerId"]) != owner_id:
        raise AppError("forbidden", "Only the task's owner sees candidates for it.")
    applied = [found["contractorId"] async for found in db[applications.COLLECTION].find({"taskId": task["_id"]}, {"contractorId": 1})]
    return await contractors(db, policy, tags=task["tags"], text=None, exclude=applied, page=1, limit=limit)
