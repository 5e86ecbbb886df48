"""What the searches cost on the embedded engine: `task:list` (default ordering with tags and its featured block),
`task:recommended` and `users:search` over 10,000 tasks and 2,000 contractors.

    python -m bench.search --tasks 10000 --contractors 2000 --runs 200

No sockets: the model functions the handlers call (`models/search.py`), back to back, against a fresh embedded engine
with a journal (as the server runs; the featured block records each showing, a write). The baseline, measured in the
same run, is the cheapest useful read: one page of open tasks in the default ordering (`find().sort().limit()` on the
`status, rankedAt` index), with no count and no featured block. Tags come from a vocabulary of 200 words (1–4 per
task, 3–8 skills per contractor); 2% of the tasks are featured, 10% of the contractors Elite, 30% identity-verified.
"""

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bson import ObjectId
from pymongo import AsyncMongoClient

from models import applications, clock, keywords, ledger, search, tasks, users
from models.db import Database
from models.indexes import create_indexes
from models.plans import PlanPolicy
from server.infra.embedded_mongo import embedded_mongo

VOCABULARY = [f"skill{n}" for n in range(200)]
POLICY = PlanPolicy(1, 1, 3, 3, 259_200, 3, "price_pro", "price_elite")
BATCH = 2_000


async def seed(db: Database, task_count: int, contractor_count: int, rng: random.Random) -> tuple[str, list[str]]:
    now = clock.now()
    contractors = []
    for index in range(contractor_count):
        skills = rng.sample(VOCABULARY, rng.randint(3, 8))
        contractor = {
            "_id": ObjectId(), "name": f"Contractor {index}", "email": f"c{index}@bench", "emailKey": f"c{index}@bench", "role": "contractor",
            "bio": "Handy", "skills": skills, "skillKeys": keywords.keys(skills), "completedTasks": rng.randint(0, 40),
            "referralCode": f"B{index:07d}", "createdAt": now,
        }  # fmt: skip
        if rng.random() < 0.1:
            contractor["subscription"] = {"tier": "elite", "status": "active"}
        if rng.random() < 0.3:
            contractor["payouts"] = {"status": "verified"}
        contractors.append(contractor)
    for start in range(0, len(contractors), BATCH):
        await db[users.COLLECTION].insert_many(contractors[start : start + BATCH])
    owners = [ObjectId() for _ in range(200)]
    rows = []
    for index in range(task_count):
        tags = rng.sample(VOCABULARY, rng.randint(1, 4))
        ranked = now - timedelta(seconds=rng.randint(0, 30 * 86_400))
        rows.append({
            "_id": ObjectId(), "ownerId": rng.choice(owners), "title": f"Task {index}", "description": "Something to do", "budget": 10_000,
            "currency": ledger.CURRENCY, "tags": tags, "tagKeys": keywords.keys(tags), "deadline": None, "autoStart": False,
            "status": "open" if rng.random() < 0.8 else "completed", "contractorId": None, "offerId": None, "pendingOfferId": None,
            "createdAt": ranked, "updatedAt": ranked, "rankedAt": ranked,
            "featuredUntil": now + timedelta(days=3) if rng.random() < 0.02 else None,
        })  # fmt: skip
    for start in range(0, len(rows), BATCH):
        await db[tasks.COLLECTION].insert_many(rows[start : start + BATCH])
    caller = contractors[0]
    applied = rng.sample(rows, 30)
    await db[applications.COLLECTION].insert_many([
        {"_id": ObjectId(), "taskId": task["_id"], "contractorId": caller["_id"], "message": "Me", "status": "pending", "createdAt": now}
        for task in applied
    ])  # fmt: skip
    return str(caller["_id"]), caller["skills"][:2]


async def timed(runs: int, call) -> dict:
    await call()
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {"p50 ms": round(statistics.median(samples), 2), "p99 ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 2)}


async def main(args) -> None:
    rng = random.Random(7)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-search-"))
    async with embedded_mongo(data_dir) as engine:
        client = AsyncMongoClient(engine.uri, tz_aware=True)
        db = Database(client, "bench_search", serialize_writes=True)
        await create_indexes(db, login_failure_window_seconds=900)
        await engine.open("bench_search")
        caller, tags = await seed(db, args.tasks, args.contractors, rng)
        viewer = (str(ObjectId()), "customer")

        def browse(tags: list[str], page: int = 1):
            return search.task_page(db, viewer, status="open" if tags else None, tags=tags, text=None, mine=False, page=page, limit=20, slots=3)

        plain = db[tasks.COLLECTION]
        cases = {
            "baseline: one page, default order, no count": lambda: plain.find({"status": "open"}).sort(search.ORGANIC).limit(20).to_list(),
            "task:list, no filter": lambda: browse([]),
            "task:list, 2 tags": lambda: browse(tags),
            "task:list, 2 tags, page 5": lambda: browse(tags, 5),
            "task:recommended": lambda: search.recommended(db, caller, page=1, limit=20),
            "users:search, 2 tags": lambda: search.contractors(db, POLICY, tags=tags, text=None, exclude=[], page=1, limit=20),
            "users:search, no filter": lambda: search.contractors(db, POLICY, tags=[], text=None, exclude=[], page=1, limit=20),
        }  # fmt: skip
        rows = []
        for name, call in cases.items():
            rows.append({"query": name} | await timed(args.runs, call))
            print(json.dumps(rows[-1]), flush=True)
        base = rows[0]["p50 ms"]
        for row in rows:
            row["p50 / baseline"] = round(row["p50 ms"] / base, 1)
        print(json.dumps({"tasks": args.tasks, "contractors": args.contractors, "runs": args.runs, "rows": rows}, indent=1))
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--contractors", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
