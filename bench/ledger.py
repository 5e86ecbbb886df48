"""Ledger throughput, hold + capture: through sockets vs a bare PyMongo loop on the same engine.

    python -m bench.ledger --contractors 8 --seconds 20

One cycle is a withdrawal: `wallet:withdraw` (hold: available → held) then
`admin:withdrawal:approve` (capture: held → external:stripe, payout record, Stripe
transfer to a local fake, payout marked paid). The bare loop runs the same three MongoDB
transactions, operation for operation, with PyMongo alone against a fresh embedded engine
(no sockets, no server, no Stripe call). The server's books are audited afterwards.
"""

import argparse
import asyncio
import json
import time

from bson import ObjectId
from pymongo import AsyncMongoClient

from models.db import Database
from models.indexes import ensure_all
from server.embedded_mongo import embedded_mongo
from tests.conftest import ADMIN, call, stripe_env
from tests.fake_stripe import FakeStripe
from tests.money import admin_socket, funded_contractor
from tests.servers import ServerProcess

AMOUNT = 1_000
FUNDS = 100_000_000


async def through_sockets(args) -> dict:
    fake = FakeStripe().start()
    server = ServerProcess(env=stripe_env(fake) | {"LOG_LEVEL": args.log_level, "ACCESS_TOKEN_TTL_SECONDS": "3600"})
    server.run_cli("create-admin", ADMIN["email"], ADMIN["password"]).check_returncode()
    server.start()
    try:
        admin = await admin_socket(server.url)
        contractors = [(await funded_contractor(server.url, admin, FUNDS))[1] for _ in range(args.contractors)]
        latencies: list[float] = []
        deadline = time.monotonic() + args.seconds

        async def cycles(client) -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                asked = await call(client, "wallet:withdraw", {"amount": AMOUNT})
                approved = await call(admin, "admin:withdrawal:approve", {"requestId": asked["data"]["requestId"]})
                assert approved["data"]["request"]["status"] == "paid", approved
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(cycles(client) for client in contractors))
        await asyncio.gather(admin.disconnect(), *(client.disconnect() for client in contractors))
        server.stop()
        audit = server.run_cli("audit-ledger")
        return {"path": f"sockets ({args.contractors} contractors, LOG_LEVEL={args.log_level})", **_rates(latencies, args.seconds),
                "audit": audit.stdout.splitlines()[0] if audit.returncode == 0 else f"FAILED: {audit.stdout}"}
    finally:
        server.remove()


async def bare_pymongo(args) -> dict:
    async with embedded_mongo() as uri:
        client = AsyncMongoClient(uri, tz_aware=True)
        db = client["bench_bare"]
        await ensure_all(Database(client, "bench_bare", serialize_writes=True), login_failure_window_seconds=900)
        user_id = ObjectId()
        wallet = f"wallet:{user_id}"
        await db.users.insert_one({"_id": user_id, "payouts": {"accountId": "acct_bench", "payoutsEnabled": True}})
        await db.ledger_accounts.insert_one({"_id": wallet, "kind": "wallet", "currency": "usd", "balance": FUNDS, "held": 0, "frozen": False})
        latencies: list[float] = []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            for work in _withdrawal_transactions(db, user_id, wallet):
                async with client.start_session() as session:
                    await session.with_transaction(work)
            latencies.append(time.perf_counter() - started)
        await client.close()
    return {"path": "bare PyMongo loop (sequential)", **_rates(latencies, args.seconds), "audit": ""}


def _withdrawal_transactions(db, user_id: ObjectId, wallet: str) -> list:
    """The server's three transactions for one withdrawal, as `models/` issues them."""
    request_id, payout_id = ObjectId(), ObjectId()

    async def hold(s):
        await db.users.find_one({"_id": user_id}, {"payouts": 1}, session=s)
        await db.ledger_transactions.find_one({"idempotencyKey": f"withdrawal-hold:{request_id}"}, session=s)
        await db.ledger_transactions.insert_one(_transaction(f"withdrawal-hold:{request_id}", wallet), session=s)
        await db.ledger_accounts.update_one({"_id": wallet, "balance": {"$gte": AMOUNT}, "frozen": {"$ne": True}}, {"$inc": {"balance": -AMOUNT}}, session=s)
        await db.ledger_accounts.update_one({"_id": wallet}, {"$inc": {"held": AMOUNT}}, session=s)
        await db.withdrawal_requests.insert_one({"_id": request_id, "userId": user_id, "amount": AMOUNT, "status": "pending"}, session=s)

    async def capture(s):
        await db.withdrawal_requests.find_one_and_update({"_id": request_id, "status": "pending"}, {"$set": {"status": "approved"}}, session=s)
        await db.users.find_one({"_id": user_id}, {"payouts": 1}, session=s)
        await db.ledger_transactions.find_one({"idempotencyKey": f"withdrawal:{request_id}"}, session=s)
        await db.ledger_transactions.insert_one(_transaction(f"withdrawal:{request_id}", wallet), session=s)
        await db.ledger_accounts.update_one({"_id": wallet, "held": {"$gte": AMOUNT}, "frozen": {"$ne": True}}, {"$inc": {"held": -AMOUNT}}, session=s)
        await db.ledger_accounts.update_one({"_id": "external:stripe"}, {"$inc": {"balance": AMOUNT}}, session=s)
        await db.ledger_accounts.update_one({"_id": wallet}, {"$inc": {"totalWithdrawals": AMOUNT}}, session=s)
        await db.payouts.insert_one({"_id": payout_id, "requestId": request_id, "status": "pending"}, session=s)
        await db.withdrawal_requests.update_one({"_id": request_id}, {"$set": {"payoutId": payout_id}}, session=s)

    async def paid(s):
        await db.payouts.update_one({"_id": payout_id, "status": "pending"}, {"$set": {"status": "paid"}}, session=s)
        await db.withdrawal_requests.find_one_and_update({"_id": request_id}, {"$set": {"status": "paid"}}, session=s)

    return [hold, capture, paid]


def _transaction(key: str, wallet: str) -> dict:
    return {"idempotencyKey": key, "type": "withdrawal", "entries": [{"account": wallet, "amount": -AMOUNT}], "accounts": [wallet]}


def _rates(latencies: list[float], seconds: float) -> dict:
    ordered = sorted(latencies)
    return {"cycles/s": round(len(ordered) / seconds, 1), "p50 ms": round(ordered[len(ordered) // 2] * 1000, 1),
            "p99 ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 1)}


async def main(args) -> None:
    rows = [await bare_pymongo(args), await through_sockets(args)]
    rows[1]["vs bare"] = f"{rows[1]['cycles/s'] / rows[0]['cycles/s']:.0%}"
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--contractors", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--log-level", default="INFO")
    asyncio.run(main(parser.parse_args()))
