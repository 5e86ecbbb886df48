"""Snapshots of the embedded engine's data to `DATA_DIR`, so a restart keeps it.

The snapshot is taken through PyMongo while every writer is held off, so it is a
consistent cut; it is written to a temporary file and renamed over the previous
one, so a crash mid-write leaves the last good snapshot in place.
"""

import asyncio
import logging
import os
from pathlib import Path

import bson

from models.db import Database

log = logging.getLogger(__name__)
SNAPSHOT_FILE = "snapshot.bson"


async def save(db: Database, data_dir: Path) -> int:
    """Write every collection to the snapshot file; returns the number of documents."""
    records: list[bytes] = []
    async with db.exclusive():
        for name in sorted(await db.mongo.list_collection_names()):
            async for document in db[name].find():
                records.append(bson.encode({"c": name, "d": document}))
    await asyncio.to_thread(_write_atomically, data_dir / SNAPSHOT_FILE, records)
    return len(records)


async def load(database, path: Path) -> int:
    """Insert the snapshot's documents (if there is a snapshot) into `database`; returns how many.

    `database` is a database of the embedded engine's in-process client (see
    `server.infra.embedded_mongo`), whose `insert_many` is cheap where the wire's is not.
    """
    if not path.exists():
        return 0
    by_collection: dict[str, list[dict]] = {}
    for record in await asyncio.to_thread(_read_records, path):
        by_collection.setdefault(record["c"], []).append(record["d"])
    for name, documents in by_collection.items():
        await database[name].insert_many(documents, ordered=False)
    return sum(map(len, by_collection.values()))


async def save_periodically(db: Database, data_dir: Path, interval: float) -> None:
    """Snapshot every `interval` seconds, skipping quiet periods."""
    saved_at_count = db.write_count
    while True:
        await asyncio.sleep(interval)
        if db.write_count == saved_at_count:
            continue
        saved_at_count = db.write_count
        try:
            count = await save(db, data_dir)
            log.debug("snapshot saved", extra={"documents": count})
        except Exception:
            log.exception("snapshot failed")


def _write_atomically(path: Path, records: list[bytes]) -> None:
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as file:
        for record in records:
            file.write(record)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _read_records(path: Path) -> list[dict]:
    with open(path, "rb") as file:
        return list(bson.decode_file_iter(file))
