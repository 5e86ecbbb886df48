"""How many writes per second the embedded engine stores as a collection grows, with the journal and without it.

    python -m bench.chat_store --sizes 0,1000,50000 --step 1000
    python -m bench.chat_store --path ledger --sizes 0,1000,50000 --step 1000

No sockets and no server: the model functions the handlers call, back to back, against
fresh embedded engines, one per mode:

- `--path chat`: `models.chat_messages.send` (the `chat:send` transaction: a room update
  and a message insert), in 50 rooms in turn;
- `--path ledger`: `models.wallets.adjust` (a ledger transaction insert and two balance
  updates: the shape of a deposit credit or a payout);
- `--path notifications`: `models.notifications.store` (an insert into a collection with a
  TTL index, which the engine purges on writes).

For each size the collection (`chat_messages`, `ledger_transactions`, `notifications`) is first filled
to that many documents with bulk inserts, then `--step` writes are timed. The two modes:
`journal` (a data directory: every commit appended and fsynced before it is answered, as
the server runs) and `memory` (no data directory: nothing durable until a snapshot, as the
server ran before the journal). Their difference per write is the cost of a durable point.
"""

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bson import ObjectId
from pymongo import AsyncMongoClient

from models import chat_messages, chat_rooms, clock, ledger, notifications, users, wallets
from models.db import Database
from models.indexes import create_indexes
from server.infra.embedded_mongo import embedded_mongo

FILL_BATCH = 5_000


async def measure(args, journal: bool) -> list[dict]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-store-")) if journal else None
    async with embedded_mongo(data_dir) as engine:
        client = AsyncMongoClient(engine.uri, tz_aware=True)
        db = Database(client, "bench_store", serialize_writes=True)
        await create_indexes(db, login_failure_window_seconds=900)
        if data_dir is not None:
            await engine.open("bench_store")
        await ledger.ensure_platform_accounts(db)
        write, collection, fill = await {"chat": _chat, "ledger": _ledger, "notifications": _notifications}[args.path](db)
        rows, done = [], 0
        for size in sorted(int(part) for part in args.sizes.split(",")):
            have = await db[collection].count_documents({})
            for start in range(have, size, FILL_BATCH):
                await db[collection].insert_many([fill(index) for index in range(start, min(size, start + FILL_BATCH))])
            began = time.perf_counter()
            for _ in range(args.step):
                await write(done)
                done += 1
            seconds = time.perf_counter() - began
            rows.append({"mode": "journal" if journal else "memory", "documents before": size, "writes/s": round(args.step / seconds),
                         "ms per write": round(seconds / args.step * 1000, 2)})  # fmt: skip
            print(json.dumps(rows[-1]), flush=True)
        await client.close()
    return rows


async def _chat(db: Database):
    sender, other = ObjectId(), ObjectId()
    await db[users.COLLECTION].insert_many([{"_id": user, "emailKey": f"{user}@bench"} for user in (sender, other)])
    rooms = [str((await chat_rooms.create_group(db, str(sender), f"Room {i}", [str(other)]))[0]["_id"]) for i in range(50)]
    filler = ObjectId()

    async def write(index: int) -> None:
        await chat_messages.send(db, rooms[index % len(rooms)], str(sender), f"message {index}", f"m{index}", [])

    def fill(index: int) -> dict:
        return {"_id": ObjectId(), "roomId": filler, "senderId": sender, "text": f"old {index}", "clientMsgId": f"f{index}",
                "clientKey": f"{filler}:{sender}:f{index}", "fileIds": [], "createdAt": clock.now(), "seq": index + 1}  # fmt: skip

    return write, chat_messages.COLLECTION, fill


async def _ledger(db: Database):
    user, admin = ObjectId(), str(ObjectId())
    await db.transaction(lambda session: ledger.open_wallet(db, session, user))
    await db[users.COLLECTION].insert_one({"_id": user, "emailKey": f"{user}@bench"})

    async def write(index: int) -> None:
        await wallets.adjust(db, str(user), 100, reason=f"bench {index}", admin_id=admin)

    def fill(index: int) -> dict:
        return {"_id": ObjectId(), "idempotencyKey": f"fill:{index}", "type": "adjustment", "currency": "usd", "refs": {},
                "entries": [], "accounts": [f"wallet:{ObjectId()}"], "createdAt": clock.now()}  # fmt: skip

    return write, ledger.TRANSACTIONS, fill


async def _notifications(db: Database):
    user = ObjectId()

    async def write(index: int) -> None:
        await notifications.store(db, [str(user)], "task:updated", {"taskId": str(index)})

    def fill(index: int) -> dict:
        return {"_id": ObjectId(), "userId": ObjectId(), "event": "task:updated", "data": {"n": index}, "read": False, "createdAt": clock.now()}

    return write, notifications.COLLECTION, fill


async def main(args) -> None:
    rows = await measure(args, journal=False) + await measure(args, journal=True)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", choices=("chat", "ledger", "notifications"), default="chat")
    parser.add_argument("--sizes", default="0,1000,50000")
    parser.add_argument("--step", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
