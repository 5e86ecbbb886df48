"""The application's handle on MongoDB and the way to change it: `transaction` (or, for GridFS, `outside_transaction`)."""

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextvars import ContextVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from models.errors import AppError

UNLABELLED_CONFLICT_BUDGET_SECONDS = 15.0
BACKOFF_BASE_SECONDS = 0.005
BACKOFF_MAX_SECONDS = 0.25


writer: ContextVar[Hashable] = ContextVar("writer", default=None)
"""On whose behalf the current task writes (the gateway sets the caller's user id); the write gate takes turns by it."""


class FairGate:
    """One holder at a time; waiters are served in turns by `writer`, not first come first served.

    Each writer waiting gets the gate in turn, one write per turn, so a writer with a thousand
    writes queued delays another writer's next write by at most one of its own, however long
    its queue. Within one writer the order is first come first served.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiting: dict[Hashable, deque[asyncio.Future]] = {}

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if not self._held and not self._waiting:
            self._held = True
        else:
            turn = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(writer.get(), deque()).append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._pass_on()
                raise
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        """Hand the gate to the next writer in turn (skipping waiters that gave up), or open it."""
        while self._waiting:
            owner = next(iter(self._waiting))
            queue = self._waiting.pop(owner)
            turn = queue.popleft()
            if queue:
                self._waiting[owner] = queue
            if not turn.done():
                turn.set_result(None)
                return
        self._held = False


def is_persistence_failure(error: OperationFailure) -> bool:
    """The embedded engine refuses writes it cannot make durable (`server/infra/embedded_mongo.py`)."""
    return error.code == 8 and "persistence unavailable" in str(error)


def _refused(error: OperationFailure) -> AppError:
    return AppError("persistence_unavailable", "The server cannot store changes right now; nothing was changed. Try again later.")


def is_unlabelled_write_conflict(error: OperationFailure) -> bool:
    """The embedded engine reports commit-time conflicts without `TransientTransactionError`."""
    return error.code == 112 or "write conflict" in str(error).lower()


class Database:
    """Collections plus `transaction`, which every write goes through.

    Against the embedded engine (`serialize_writes=True`) every write holds one
    in-process lock: that engine detects conflicts per collection at commit time
    and a losing commit can still overwrite concurrent writes, so concurrent
    writers must never meet. Against a replica set writers run concurrently and
    conflicts are retried. The lock is a `FairGate`: writers take turns, so one client's
    flood of writes cannot queue everybody else behind it.
    """

    def __init__(self, client: AsyncMongoClient, name: str, *, serialize_writes: bool) -> None:
        self.client = client
        self.mongo: AsyncDatabase = client[name]
        self._write_gate = FairGate() if serialize_writes else None
        self.write_count = 0
        self.persistence = None
        """Embedded mode: `server.infra.database.Persistence`, which `/readyz` asks whether writes are durable."""

    def __getitem__(self, collection: str):
        return self.mongo[collection]

    @contextlib.asynccontextmanager
    async def exclusive(self):
        """Hold off every writer (embedded mode), e.g. to take a consistent snapshot."""
        if self._write_gate is None:
            yield
            return
        async with self._write_gate.hold():
            yield

    async def outside_transaction[T](self, write: Callable[[], Awaitable[T]]) -> T:
        """For the writes MongoDB cannot make in a transaction (GridFS): still serialized in embedded mode, still snapshotted."""
        async with self.exclusive():
            try:
                result = await write()
            except OperationFailure as error:
                if is_persistence_failure(error):
                    raise _refused(error) from None
                raise
            self.write_count += 1
            return result

    async def transaction[T](self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run `work(session)` in one multi-document transaction, retrying conflicts.

        PyMongo's `with_transaction` retries labelled transient errors and unknown
        commit results with jittered backoff (for up to 120 s); the loop here adds the
        unlabelled conflicts of the embedded engine, for up to
        `UNLABELLED_CONFLICT_BUDGET_SECONDS`. Those arise only when writers are not
        serialized, i.e. when several processes share one embedded engine through
        `MONGODB_URI` (the RQ tests do). `work` must be safe to run again.
        """
        deadline = time.monotonic() + UNLABELLED_CONFLICT_BUDGET_SECONDS
        attempt = 0
        while True:
            try:
                async with self.exclusive():
                    async with self.client.start_session() as session:
                        result = await session.with_transaction(work)
                    self.write_count += 1
                    return result
            except OperationFailure as error:
                if is_persistence_failure(error):
                    raise _refused(error) from None
                if time.monotonic() > deadline or not is_unlabelled_write_conflict(error):
                    raise
            backoff = min(BACKOFF_BASE_SECONDS * 2**attempt, BACKOFF_MAX_SECONDS)
            await asyncio.sleep(random.uniform(0, backoff))
            attempt += 1
