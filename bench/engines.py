"""The durability options for embedded mode, measured side by side over the wire, as the server talks to them.

    python -m bench.engines --operations 300

- `memory`: mongoeco's memory engine alone (the old mode: durable only at a snapshot);
- `memory + journal`: the same engine in this project's engine process with a data
  directory (`server/infra/embedded_mongo.py`: every commit fsynced to the journal first);
- `sqlite`: mongoeco's `SQLiteEngine` on a file (durable by itself).

For each: the time of a single-document insert, and of a transaction that updates one
document and inserts another (the shape of most of the server's writes); then whether a
second session can read and write while a transaction is open (the server reads outside
its write gate, so an engine that refuses that cannot serve it).
"""

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from pathlib import Path

from bson import ObjectId
from mongoeco.engines.sqlite import SQLiteEngine
from mongoeco.wire import AsyncMongoEcoProxyServer
from pymongo import AsyncMongoClient

from server.infra.embedded_mongo import embedded_mongo


@contextlib.asynccontextmanager
async def engine_uri(kind: str):
    if kind == "sqlite":
        async with AsyncMongoEcoProxyServer(engine=SQLiteEngine(tempfile.mktemp(suffix=".db")), port=0) as proxy:
            yield f"mongodb://127.0.0.1:{proxy.address.port}/?directConnection=true"
        return
    data_dir = Path(tempfile.mkdtemp(prefix="bench-engines-")) if kind == "memory + journal" else None
    async with embedded_mongo(data_dir) as engine:
        if data_dir is not None:
            await engine.open("bench")
        yield engine.uri


async def measure(kind: str, operations: int) -> dict:
    async with engine_uri(kind) as uri:
        client = AsyncMongoClient(uri)
        db = client.bench
        await db.c.create_index("k", unique=True)
        began = time.perf_counter()
        for index in range(operations):
            await db.c.insert_one({"_id": ObjectId(), "k": index, "text": "x" * 100})
        insert_ms = (time.perf_counter() - began) / operations * 1000
        began = time.perf_counter()
        for index in range(operations):
            async with client.start_session() as session:

                async def work(session, index=index):
                    await db.c.update_one({"k": index}, {"$inc": {"n": 1}}, session=session)
                    await db.d.insert_one({"_id": ObjectId(), "k": index}, session=session)

                await session.with_transaction(work)
        transaction_ms = (time.perf_counter() - began) / operations * 1000
        async with client.start_session() as session:
            await session.start_transaction()
            await db.c.update_one({"k": 1}, {"$inc": {"n": 1}}, session=session)
            try:
                await asyncio.wait_for(db.c.find_one({"k": 2}), 5)
                await asyncio.wait_for(db.c.update_one({"k": 3}, {"$inc": {"n": 1}}), 5)
                concurrent = "yes"
            except Exception as error:
                concurrent = f"refused: {str(error).split(',')[0][:90]}"
            await session.abort_transaction()
        await client.close()
    return {
        "engine": kind,
        "insert ms": round(insert_ms, 2),
        "transaction ms": round(transaction_ms, 2),
        "other session during a transaction": concurrent,
    }


async def main(args) -> None:
    rows = [await measure(kind, args.operations) for kind in ("memory", "memory + journal", "sqlite")]
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--operations", type=int, default=300)
    asyncio.run(main(parser.parse_args()))
