"""Opening the database: a MongoDB replica set from `MONGODB_URI`, or the embedded engine."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from models import indexes, ledger
from models.db import Database
from server.config import Settings
from server.infra import snapshot
from server.infra.data_dir import exclusive_lock
from server.infra.embedded_mongo import embedded_mongo

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, prepare: bool = True) -> AsyncIterator[Database]:
    """Yield a ready `Database` (indexes made, snapshot loaded); close it cleanly after.

    `prepare=False` (RQ workers, `MONGODB_URI` only) just connects: the web processes
    check and prepare the shared database, and a job should not redo that each time.
    """
    if settings.embedded_db:
        with exclusive_lock(settings.data_dir):
            async with embedded_mongo() as engine, _connected(settings, engine.uri, serialize_writes=True) as db:
                await indexes.create_indexes(db, login_failure_window_seconds=settings.login_failure_window_seconds)
                loaded = await engine.load_snapshot(settings.data_dir / snapshot.SNAPSHOT_FILE, settings.mongodb_db)
                log.info("embedded MongoDB engine started", extra={"documentsLoaded": loaded, "dataDir": str(settings.data_dir)})
                await ledger.ensure_platform_accounts(db)
                saver = asyncio.create_task(snapshot.save_periodically(db, settings.data_dir, settings.snapshot_interval_seconds))
                try:
                    yield db
                finally:
                    saver.cancel()
                    count = await snapshot.save(db, settings.data_dir)
                    log.info("snapshot saved", extra={"documents": count})
    else:
        async with _connected(settings, settings.mongodb_uri, serialize_writes=False) as db:
            if prepare:
                await _require_transactions(db)
                await _prepare(db, settings)
            yield db


@contextlib.asynccontextmanager
async def _connected(settings: Settings, uri: str, *, serialize_writes: bool) -> AsyncIterator[Database]:
    client = AsyncMongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=10_000)
    try:
        yield Database(client, settings.mongodb_db, serialize_writes=serialize_writes)
    finally:
        await client.close()


async def _prepare(db: Database, settings: Settings) -> None:
    await indexes.ensure_all(db, login_failure_window_seconds=settings.login_failure_window_seconds)


async def _require_transactions(db: Database) -> None:
    try:
        async with db.client.start_session() as session:
            async with await session.start_transaction():
                await db["startup_checks"].find_one({}, session=session)
    except OperationFailure as error:
        raise SystemExit(
            f"MONGODB_URI does not support transactions ({error.details.get('errmsg', error)}); "
            "money moves in multi-document transactions, so use a replica set (a single-node one is fine)."
        ) from None
