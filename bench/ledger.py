"""Ledger throughput, hold + capture: through sockets vs a bare PyMongo loop on the same engine.

    python -m bench.ledger --flow offer --pairs 8 --seconds 20
    python -m bench.ledger --flow withdrawal --pairs 8 --seconds 20

`offer`: `offer:send` (hold `totalCharge` on the customer's wallet) then `offer:accept`
(capture into `platform:escrow`, task assigned), on tasks and applications made before
the clock starts. `withdrawal`: `wallet:withdraw` (hold) then `admin:withdrawal:approve`
(capture to `external:stripe`, payout, Stripe transfer to a local fake, payout paid).
Each pair of users runs cycles back to back. The bare loop runs the same MongoDB
transactions, operation for operation, with PyMongo alone against a fresh embedded
engine: sequentially, with no server, no sockets, no pushes and no Stripe call. The
server's books are audited afterwards.
"""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bson import ObjectId
from pymongo import AsyncMongoClient

from bench.money_server import audit, bench_server
from models.db import Database
from models.indexes import ensure_all
from server.infra.embedded_mongo import embedded_mongo
from tests.conftest import call
from tests.marketplace import funded_customer, task_with_application
from tests.money import funded_contractor

AMOUNT = 1_000
FUNDS = 100_000_000
TASKS_PER_PAIR = 60


async def withdrawal_pairs(base: str, admin, count: int) -> list:
    contractors = [(await funded_contractor(base, admin, FUNDS))[1] for _ in range(count)]

    def cycle(contractor):
        async def run() -> bool:
            asked = await call(contractor, "wallet:withdraw", {"amount": AMOUNT})
            approved = await call(admin, "admin:withdrawal:approve", {"requestId": asked["data"]["requestId"]})
            assert approved["data"]["request"]["status"] == "paid", approved
            return True

        return run

    return [cycle(contractor) for contractor in contractors], contractors


async def offer_pairs(base: str, admin, count: int) -> list:
    cycles, clients = [], []
    for _ in range(count):
        _, customer = await funded_customer(base, 1_000_000)
        queued = [await task_with_application(base, customer) for _ in range(TASKS_PER_PAIR)]
        clients += [customer, *(contractor for _, _, contractor in queued)]

        def cycle(customer=customer, queued=queued):
            async def run() -> bool:
                if not queued:
                    return False
                _, application, contractor = queued.pop()
                sent = await call(
                    customer, "offer:send", {"applicationId": application["id"], "amount": AMOUNT, "timeline": "1 day", "description": "bench"}
                )
                accepted = await call(contractor, "offer:accept", {"offerId": sent["data"]["offer"]["id"]})
                assert accepted["ok"], accepted
                return True

            return run

        cycles.append(cycle())
    return cycles, clients


async def through_sockets(args) -> dict:
    async with bench_server(args.log_level) as (server, admin):
        cycles, clients = await (offer_pairs if args.flow == "offer" else withdrawal_pairs)(server.url, admin, args.pairs)
        latencies: list[float] = []
        started_at = time.monotonic()
        deadline = started_at + args.seconds

        async def drive(cycle) -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                if not await cycle():
                    return
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(drive(cycle) for cycle in cycles))
        elapsed = time.monotonic() - started_at
        await asyncio.gather(admin.disconnect(), *(client.disconnect() for client in clients))
        return {"path": f"sockets ({args.pairs} pairs, LOG_LEVEL={args.log_level})", **_rates(latencies, elapsed), "audit": audit(server)}


async def bare_pymongo(args) -> dict:
    """On a journaled engine, as the server's: each commit is fsynced before it is answered on both sides."""
    async with embedded_mongo(Path(tempfile.mkdtemp(prefix="bench-bare-"))) as engine:
        client = AsyncMongoClient(engine.uri, tz_aware=True)
        db = client["bench_bare"]
        await ensure_all(Database(client, "bench_bare", serialize_writes=True), login_failure_window_seconds=900)
        await engine.open("bench_bare")
        customer, contractor = ObjectId(), ObjectId()
        await db.users.insert_one({"_id": contractor, "payouts": {"accountId": "acct_bench", "payoutsEnabled": True}})
        for user in (customer, contractor):
            await db.ledger_accounts.insert_one(
                {"_id": f"wallet:{user}", "kind": "wallet", "currency": "usd", "balance": FUNDS, "held": 0, "frozen": False}
            )
        if args.flow == "offer":
            queued = [await _open_task(db, customer, contractor) for _ in range(args.pairs * TASKS_PER_PAIR)]
        latencies: list[float] = []
        started_at = time.monotonic()
        while time.monotonic() < started_at + args.seconds:
            if args.flow == "offer":
                if not queued:
                    break
                steps = _offer_transactions(db, customer, contractor, *queued.pop())
            else:
                steps = _withdrawal_transactions(db, contractor)
            started = time.perf_counter()
            for work in steps:
                async with client.start_session() as session:
                    await session.with_transaction(work)
            latencies.append(time.perf_counter() - started)
        elapsed = time.monotonic() - started_at
        await client.close()
    return {"path": "bare PyMongo loop (sequential)", **_rates(latencies, elapsed), "audit": ""}


async def _open_task(db, customer: ObjectId, contractor: ObjectId) -> tuple[ObjectId, ObjectId]:
    """Made before the clock starts, as many as the socket run makes, so both engines hold as much data."""
    task_id, application_id = ObjectId(), ObjectId()
    await db.tasks.insert_one({"_id": task_id, "ownerId": customer, "status": "open", "pendingOfferId": None, "autoStart": False})
    await db.applications.insert_one({"_id": application_id, "taskId": task_id, "contractorId": contractor, "status": "pending"})
    return task_id, application_id


def _offer_transactions(db, customer: ObjectId, contractor: ObjectId, task_id: ObjectId, application_id: ObjectId) -> list:
    """`models.offers.send` and `accept`."""
    offer_id = ObjectId()
    wallet = f"wallet:{customer}"
    charge = AMOUNT + AMOUNT // 20

    async def send(s):
        await db.applications.find_one({"_id": application_id}, session=s)
        await db.tasks.find_one({"_id": task_id}, session=s)
        await db.tasks.find_one_and_update(
            {"_id": task_id, "status": {"$in": ["open"]}, "pendingOfferId": None}, {"$set": {"pendingOfferId": offer_id}}, session=s
        )
        await _ledger(db, s, f"offer-hold:{offer_id}", [(wallet, "balance", -charge), (wallet, "held", charge)])
        await db.offers.insert_one(
            {
                "_id": offer_id,
                "taskId": task_id,
                "applicationId": application_id,
                "customerId": customer,
                "contractorId": contractor,
                "totalCharge": charge,
                "status": "pending",
            },
            session=s,
        )
        await db.applications.update_one({"_id": application_id}, {"$set": {"status": "offered"}}, session=s)

    async def accept(s):
        await db.offers.find_one_and_update(
            {"_id": offer_id, "status": "pending", "contractorId": contractor}, {"$set": {"status": "accepted"}}, session=s
        )
        await _ledger(db, s, f"offer-capture:{offer_id}", [(wallet, "held", -charge), ("platform:escrow", "balance", charge)])
        await db.tasks.find_one({"_id": task_id}, session=s)
        await db.tasks.find_one_and_update(
            {"_id": task_id, "status": {"$in": ["open"]}, "pendingOfferId": offer_id},
            {"$set": {"status": "assigned", "contractorId": contractor, "offerId": offer_id, "pendingOfferId": None}},
            session=s,
        )
        await db.applications.update_one({"_id": application_id}, {"$set": {"status": "accepted"}}, session=s)
        await db.applications.update_many(
            {"taskId": task_id, "_id": {"$ne": application_id}, "status": {"$in": ["pending", "offered"]}}, {"$set": {"status": "closed"}}, session=s
        )

    return [send, accept]


def _withdrawal_transactions(db, contractor: ObjectId) -> list:
    """`models.withdrawals.request`, `approve` and `models.payouts.mark_paid`."""
    request_id, payout_id = ObjectId(), ObjectId()
    wallet = f"wallet:{contractor}"

    async def hold(s):
        await db.users.find_one({"_id": contractor}, {"payouts": 1}, session=s)
        await _ledger(db, s, f"withdrawal-hold:{request_id}", [(wallet, "balance", -AMOUNT), (wallet, "held", AMOUNT)])
        await db.withdrawal_requests.insert_one({"_id": request_id, "userId": contractor, "amount": AMOUNT, "status": "pending"}, session=s)

    async def capture(s):
        await db.withdrawal_requests.find_one_and_update({"_id": request_id, "status": "pending"}, {"$set": {"status": "approved"}}, session=s)
        await db.users.find_one({"_id": contractor}, {"payouts": 1}, session=s)
        await _ledger(db, s, f"withdrawal:{request_id}", [(wallet, "held", -AMOUNT), ("external:stripe", "balance", AMOUNT)])
        await db.ledger_accounts.update_one({"_id": wallet}, {"$inc": {"totalWithdrawals": AMOUNT}}, session=s)
        await db.payouts.insert_one({"_id": payout_id, "requestId": request_id, "status": "pending"}, session=s)
        await db.withdrawal_requests.update_one({"_id": request_id}, {"$set": {"payoutId": payout_id}}, session=s)

    async def paid(s):
        await db.payouts.update_one({"_id": payout_id, "status": "pending"}, {"$set": {"status": "paid"}}, session=s)
        await db.withdrawal_requests.find_one_and_update({"_id": request_id}, {"$set": {"status": "paid"}}, session=s)

    return [hold, capture, paid]


async def _ledger(db, s, key: str, entries: list[tuple[str, str, int]]) -> None:
    """`models.ledger.post`: the idempotency lookup, the transaction, one conditional `$inc` per entry."""
    await db.ledger_transactions.find_one({"idempotencyKey": key}, session=s)
    await db.ledger_transactions.insert_one({"idempotencyKey": key, "entries": [list(entry) for entry in entries]}, session=s)
    for account, field, amount in entries:
        condition = {field: {"$gte": -amount}, "frozen": {"$ne": True}} if amount < 0 else {}
        await db.ledger_accounts.update_one({"_id": account, **condition}, {"$inc": {field: amount}}, session=s)


def _rates(latencies: list[float], seconds: float) -> dict:
    ordered = sorted(latencies)
    return {
        "cycles/s": round(len(ordered) / seconds, 1),
        "p50 ms": round(ordered[len(ordered) // 2] * 1000, 1),
        "p99 ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 1),
    }


async def main(args) -> None:
    rows = [await bare_pymongo(args), await through_sockets(args)]
    rows[1]["vs bare"] = f"{rows[1]['cycles/s'] / rows[0]['cycles/s']:.0%}"
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--flow", choices=("offer", "withdrawal"), default="offer")
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--log-level", default="INFO")
    asyncio.run(main(parser.parse_args()))
