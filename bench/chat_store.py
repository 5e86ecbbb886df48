"""How many chat messages per second the embedded engine can store, as the room history grows.

    python -m bench.chat_store --rooms 50 --messages 8000 --step 1000

No sockets and no server: `models.chat_messages.send`, the transaction `chat:send` runs,
called back to back against a fresh embedded engine, in `--rooms` rooms in turn. Each
line is the rate over the last `--step` messages. It is the ceiling under `bench/chat.py`:
no server in front of this engine can acknowledge stored messages faster.
"""

import argparse
import asyncio
import json
import time

from bson import ObjectId
from pymongo import AsyncMongoClient

from models import chat_messages, chat_rooms, users
from models.db import Database
from models.indexes import ensure_all
from server.infra.embedded_mongo import embedded_mongo


async def main(args) -> None:
    async with embedded_mongo() as engine:
        client = AsyncMongoClient(engine.uri, tz_aware=True)
        db = Database(client, "bench_chat_store", serialize_writes=True)
        await ensure_all(db, login_failure_window_seconds=900)
        sender, other = ObjectId(), ObjectId()
        await db[users.COLLECTION].insert_many([{"_id": user, "emailKey": f"{user}@bench"} for user in (sender, other)])
        rooms = [str((await chat_rooms.create_group(db, str(sender), f"Room {i}", [str(other)]))["_id"]) for i in range(args.rooms)]
        rows = []
        for stored in range(0, args.messages, args.step):
            began = time.perf_counter()
            for index in range(stored, stored + args.step):
                await chat_messages.send(db, rooms[index % len(rooms)], str(sender), f"message {index}", f"m{index}", [])
            rows.append({"stored before": stored, "sends/s": round(args.step / (time.perf_counter() - began))})
            print(json.dumps(rows[-1]), flush=True)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rooms", type=int, default=50)
    parser.add_argument("--messages", type=int, default=8000)
    parser.add_argument("--step", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
