"""Opening the database: a MongoDB replica set from `MONGODB_URI`, or the embedded engine with its journal and snapshots."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

from models import indexes
from models.db import Database
from server.config import Settings
from server.infra.data_dir import exclusive_lock
from server.infra.embedded_mongo import EmbeddedEngine, embedded_mongo

log = logging.getLogger(__name__)
HEAL_SECONDS = 5.0


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, prepare: bool = True) -> AsyncIterator[Database]:
    """Yield a ready `Database` (indexes made; embedded: snapshot loaded and journal replayed); close it cleanly after.

    `prepare=False` (RQ workers, `MONGODB_URI` only) just connects: the web processes
    check and prepare the shared database, and a job should not redo that each time.
    """
    if settings.embedded_db:
        with exclusive_lock(settings.data_dir):
            async with embedded_mongo(settings.data_dir) as engine, _connected(settings, engine.uri, serialize_writes=True) as db:
                await indexes.create_indexes(db, login_failure_window_seconds=settings.login_failure_window_seconds)
                opened = await engine.open(settings.mongodb_db)
                log.info("embedded MongoDB engine started", extra=opened | {"dataDir": str(settings.data_dir)})
                await indexes.prepare_data(db)
                db.persistence = Persistence(db, engine, settings)
                keeper = asyncio.create_task(db.persistence.keep())
                try:
                    yield db
                finally:
                    keeper.cancel()
    else:
        async with _connected(settings, settings.mongodb_uri, serialize_writes=False) as db:
            if prepare:
                await _require_transactions(db)
                await _prepare(db, settings)
            yield db


class Persistence:
    """Embedded mode: folds the journal into a snapshot now and then, and watches that writes stay durable.

    A snapshot is taken when the journal holds `SNAPSHOT_JOURNAL_BYTES`, or every
    `SNAPSHOT_INTERVAL_SECONDS` when it holds anything; the write gate is held only while the
    engine takes its cut. While the engine reports writes not durable (a journal write
    failed), `/readyz` says so, an ERROR is logged once for the streak, the engine refuses
    writes, and a healing snapshot is tried every few seconds.
    """

    def __init__(self, db: Database, engine: EmbeddedEngine, settings: Settings) -> None:
        self._db, self._engine, self._settings = db, engine, settings
        self._failing: str | None = None

    async def status(self) -> dict:
        return await self._engine.status()

    async def snapshot(self) -> dict:
        async with self._db.exclusive():
            return await self._engine.begin_snapshot()

    async def keep(self) -> None:
        last = asyncio.get_running_loop().time()
        while True:
            await asyncio.sleep(min(HEAL_SECONDS, self._settings.snapshot_interval_seconds))
            try:
                status = await self.status()
                self._report(status)
                now = asyncio.get_running_loop().time()
                due = status["journalBytes"] > 0 and now - last >= self._settings.snapshot_interval_seconds
                if not status["durable"] or status["journalBytes"] >= self._settings.snapshot_journal_bytes or due:
                    await self.snapshot()
                    last = now
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("persistence check failed")

    def _report(self, status: dict) -> None:
        problem = status["failure"] or status["snapshotError"]
        if problem and not self._failing:
            log.error("embedded persistence is failing", extra={"reason": problem, "durable": status["durable"]})
        elif not problem and self._failing:
            log.warning("embedded persistence recovered")
        self._failing = problem


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
