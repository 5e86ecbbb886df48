"""The embedded MongoDB-compatible engine, run as a child process of the server, made durable by a journal.

Run as `python -m server.infra.embedded_mongo [DATA_DIR]`: it serves mongoeco's in-memory
engine over the MongoDB wire protocol on a free loopback port, prints that port on its
first line of output, and exits when its standard input closes, so it never outlives the
server that started it (even one that was killed). It runs in a session of its own, so a
Ctrl-C or SIGTERM to the server's process group does not stop it while the server shuts
down. Its own process gives it the second core.

With a DATA_DIR it is durable (`open` below), in three parts:

- **The journal** (`Journal`): every write command the server sends is appended to a
  journal file and fsynced *before* the engine answers it: an autocommit write as soon as
  it ran, a transaction's writes as one record when `commitTransaction` succeeds (an
  aborted transaction leaves nothing). So anything the server was told is committed is on
  disk, and a kill -9 of both processes loses nothing acknowledged. Records are the
  commands themselves, replayed in order on the next start under the clock they first ran
  with; writes are serialized by the server, so the replay reaches the same state. The
  only value the engine invents, an upsert's `_id`, is pinned into the recorded command.
- **Snapshots**: on request the engine starts a read-only transaction (the engine's MVCC
  copies its containers, so this is a consistent cut at that instant), switches to the
  next journal file, and answers; the server holds its write gate only for that moment.
  The snapshot is then streamed to `snapshot.tmp` document by document, fsynced and
  renamed over `snapshot.bson`; the journal files it covers are deleted afterwards. A
  crash at any point leaves the previous snapshot and every journal file it needs.
- **Failure**: if a journal write fails (disk full, I/O error), the engine refuses every
  write from then on (`persistence unavailable`, code 8) and says so in `status`, until a
  snapshot succeeds again. The write whose record failed is answered with that error too,
  although it is in memory; the healing snapshot makes the disk agree with memory again.

The engine also loads snapshots straight into its own memory rather than over the wire.

**Two patches of mongoeco 4.11.0**, in `FlatInsertEngine` and `JournaledExecutor`, checked
at start by `check_engine` (which refuses to start on any other version or a changed
function, so an upgrade cannot silently undo them):

1. Inserts that do not grow with the collection: mongoeco's wire `insert` calls
   `insert_one` per document, and `MemoryEngine._insert_documents_impl` then passes
   `scan_payload_id=True` to `_ensure_unique_indexes`, which compares the new `_id` with
   every stored one (`bson_equality_key`), to catch numeric ids that are equal across
   types (1 and 1.0). The `_id` storage-key lookup that precedes the scan already catches
   every duplicate of a non-numeric id (ObjectIds, strings: all this project uses), so
   the scan is skipped for those; numeric ids keep it.
2. The journal wraps the wire proxy's `WireCommandExecutor.execute_prepared`, the one
   place every command passes through between being decoded and being answered.
"""

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
import mongoeco
from mongoeco import AsyncMongoClient as InProcessClient
from mongoeco.core.codec import DocumentCodec
from mongoeco.core.expression_context import execution_now_scope
from mongoeco.core.identity import id_contains_numeric_value
from mongoeco.engines import MemoryEngine
from mongoeco.errors import OperationFailure
from mongoeco.wire import AsyncMongoEcoProxyServer
from mongoeco.wire.executor import WireCommandExecutor

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 30
SNAPSHOT_FILE = "snapshot.bson"
LOAD_BATCH = 1_000
LOAD_BATCH_BYTES = 16 * 1024 * 1024
EXPECTED_MONGOECO = "4.11.0"
EXPECTED_SOURCES = {
    "MemoryEngine._ensure_unique_indexes": "1fb2ba1532c565aa",
    "MemoryEngine._insert_documents_impl": "25590c67b01472b6",
    "WireCommandExecutor.execute_prepared": "0cc262c53655ff3e",
}
PERSISTENCE_FAILURE_CODE = 8
PERSISTENCE_FAILURE = "persistence unavailable"
WRITE_COMMANDS = frozenset({
    "insert", "update", "delete", "findAndModify", "findandmodify", "create", "drop", "dropDatabase",
    "createIndexes", "dropIndexes", "renameCollection", "collMod",
})  # fmt: skip


def _source_digest(function: object) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def check_engine() -> None:
    """Refuse to start on a mongoeco whose patched functions are not the ones the patches were written for."""
    found = {
        "MemoryEngine._ensure_unique_indexes": _source_digest(MemoryEngine._ensure_unique_indexes),
        "MemoryEngine._insert_documents_impl": _source_digest(MemoryEngine._insert_documents_impl),
        "WireCommandExecutor.execute_prepared": _source_digest(WireCommandExecutor.execute_prepared),
    }
    if mongoeco.__version__ != EXPECTED_MONGOECO or found != EXPECTED_SOURCES:
        raise SystemExit(
            f"server/infra/embedded_mongo.py patches mongoeco {EXPECTED_MONGOECO}; found {mongoeco.__version__} with "
            f"{ {name: digest for name, digest in found.items() if EXPECTED_SOURCES.get(name) != digest} } changed. "
            "Re-check FlatInsertEngine and JournaledExecutor against the new code, then update EXPECTED_SOURCES."
        )


class FlatInsertEngine(MemoryEngine):
    """mongoeco's memory engine without the whole-collection `_id` scan on every single-document insert (see the module doc)."""

    def _ensure_unique_indexes(self, db_name: str, coll_name: str, candidate: dict, *, scan_payload_id: bool = False, **kwargs: Any) -> None:
        if scan_payload_id and "_id" in candidate and not id_contains_numeric_value(candidate["_id"]):
            scan_payload_id = False
        super()._ensure_unique_indexes(db_name, coll_name, candidate, scan_payload_id=scan_payload_id, **kwargs)


class Journal:
    """Append-only files of committed write commands, one generation per file, each record fsynced when written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.generation = 0
        self._file = None
        self.bytes = 0

    def path(self, generation: int) -> Path:
        return self.directory / f"journal-{generation:08d}.bson"

    def generations(self) -> list[int]:
        return sorted(int(path.stem.split("-")[1]) for path in self.directory.glob("journal-*.bson"))

    def records(self, generation: int) -> Iterator[dict]:
        """The complete records of one file; a torn record at the end (a crash mid-append, never acknowledged) is cut off."""
        path = self.path(generation)
        good = 0
        for record, end in read_records(path):
            good = end
            yield record
        if good != path.stat().st_size:
            with open(path, "r+b") as file:
                file.truncate(good)
                os.fsync(file.fileno())

    def open(self, generation: int) -> None:
        self.close()
        self.generation = generation
        self._file = open(self.path(generation), "ab")
        self.bytes = self._file.tell()
        _fsync_directory(self.directory)

    def append(self, record: dict) -> None:
        """Written and fsynced before returning; raises OSError if the disk refuses."""
        data = bson.encode(record)
        self._file.write(data)
        self._file.flush()
        os.fsync(self._file.fileno())
        self.bytes += len(data)

    def rotate(self) -> int:
        """Continue in a new file; the records before it are exactly what a snapshot taken now contains."""
        self.open(self.generation + 1)
        return self.generation

    def remove_before(self, generation: int) -> None:
        for old in self.generations():
            if old < generation:
                self.path(old).unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class JournaledExecutor:
    """Wraps the proxy's command executor: records each write before its answer leaves, refuses writes while failing."""

    def __init__(self, executor: WireCommandExecutor, journal: Journal) -> None:
        self._execute = executor.execute_prepared
        self.journal = journal
        self.recording = False
        self.failure: str | None = None
        self.records = 0
        self._transactions: dict[tuple, list[dict]] = {}
        executor.execute_prepared = self.execute_prepared

    async def execute_prepared(self, context) -> dict[str, Any]:
        name = context.command_name
        writes = name in WRITE_COMMANDS
        if not self.recording or not (writes or name in ("commitTransaction", "abortTransaction")):
            return await self._execute(context)
        if self.failure is not None and name != "abortTransaction":
            raise OperationFailure(f"{PERSISTENCE_FAILURE}: {self.failure}", code=PERSISTENCE_FAILURE_CODE)
        body = context.raw_body
        transaction = (_session_key(body), body.get("txnNumber")) if body.get("autocommit") is False else None
        if transaction is not None and body.get("startTransaction"):
            self._transactions.pop(transaction, None)
        result = await self._execute(context)
        if name == "abortTransaction":
            self._transactions.pop(transaction, None)
        elif name == "commitTransaction":
            commands = self._transactions.pop(transaction, [])
            if commands and result.get("ok"):
                self._append(commands)
        elif transaction is not None:
            self._transactions.setdefault(transaction, []).append(_recorded(context, result))
        else:
            self._append([_recorded(context, result)])
        return result

    def _append(self, commands: list[dict]) -> None:
        try:
            self.journal.append({"cmds": DocumentCodec.to_pymongo(commands)})
            self.records += 1
        except Exception as error:
            self.failure = f"the journal could not be written ({type(error).__name__}: {error})"
            raise OperationFailure(f"{PERSISTENCE_FAILURE}: {self.failure}", code=PERSISTENCE_FAILURE_CODE) from None


def _session_key(body: dict) -> object:
    lsid = body.get("lsid")
    return lsid.get("id") if isinstance(lsid, dict) else lsid


def _recorded(context, result: dict) -> dict:
    """The command as it must be replayed: with any `_id` the engine generated for an upsert pinned into its filter."""
    command = dict(context.command_document)
    name = context.command_name
    if name in ("findAndModify", "findandmodify"):
        upserted = (result.get("lastErrorObject") or {}).get("upserted")
        if upserted is not None:
            command["query"] = {**(command.get("query") or {}), "_id": upserted}
    elif name == "update" and result.get("upserted"):
        updates = [dict(update) for update in command["updates"]]
        for item in result["upserted"]:
            updates[item["index"]]["q"] = {**(updates[item["index"]].get("q") or {}), "_id": item["_id"]}
        command["updates"] = updates
    return {"db": context.db_name, "at": context.execution_context.now, "cmd": command}


class Store:
    """The engine's data directory: loading at start, replaying the journal, snapshots, and the state it reports."""

    def __init__(self, engine: MemoryEngine, executor: JournaledExecutor, data_dir: Path) -> None:
        self.local = InProcessClient(engine)
        self.executor = executor
        self.journal = executor.journal
        self.data_dir = data_dir
        self.snapshot_error: str | None = None
        self.snapshot_task: asyncio.Task | None = None
        self.last_snapshot: dict[str, Any] | None = None

    async def open(self, database: str) -> dict[str, int]:
        """Load the snapshot, replay the journal after it, and start recording. Indexes should exist already."""
        (self.data_dir / "snapshot.tmp").unlink(missing_ok=True)
        loaded, covered = await self._load_snapshot(database)
        replayed = 0
        for generation in [g for g in self.journal.generations() if g >= covered]:
            for record in self.journal.records(generation):
                for command in record["cmds"]:
                    with contextlib.suppress(Exception), execution_now_scope(command["at"]):
                        await self.local[command["db"]].command(command["cmd"])
                replayed += 1
        self.journal.open(max([covered, *self.journal.generations()]))
        self.journal.remove_before(covered)
        self.executor.recording = True
        return {"documents": loaded, "journalRecords": replayed}

    async def _load_snapshot(self, database: str) -> tuple[int, int]:
        """Documents loaded, and the first journal generation the snapshot does not contain.

        Read a record at a time and inserted in batches of at most `LOAD_BATCH` documents or
        `LOAD_BATCH_BYTES`, so a snapshot of any size loads in bounded memory. (A snapshot
        written before the journal existed has no header and is followed by every journal file.)
        """
        path = self.data_dir / SNAPSHOT_FILE
        if not path.exists():
            return 0, 0
        loaded, covered, batch, batch_bytes, previous_end = 0, 0, {}, 0, 0
        for record, end in read_records(path):
            batch_bytes, previous_end = batch_bytes + end - previous_end, end
            if "snapshot" in record:
                covered = record["snapshot"]["journal"]
                continue
            key = (record.get("db", database), record["c"])
            batch.setdefault(key, []).append(record["d"])
            if len(batch[key]) >= LOAD_BATCH or batch_bytes >= LOAD_BATCH_BYTES:
                loaded += await self._insert(key, batch.pop(key))
                batch_bytes = 0
        for key, documents in batch.items():
            loaded += await self._insert(key, documents)
        return loaded, covered

    async def _insert(self, key: tuple[str, str], documents: list[dict]) -> int:
        await self.local[key[0]][key[1]].insert_many(documents, ordered=False)
        return len(documents)

    async def begin_snapshot(self) -> dict[str, Any]:
        """Capture a consistent cut and switch journal files at this instant; the file is written in the background.

        The server holds its write gate while this runs, so no write falls between the cut and the switch.
        """
        if self.snapshot_task is not None and not self.snapshot_task.done():
            return {"started": False, "reason": "a snapshot is being written"}
        session = self.local.start_session()
        session.start_transaction()  # the engine copies its containers here: the cut
        try:
            generation = self.journal.rotate()
        except OSError as error:
            _end(session)
            self._snapshot_failed(error)
            return {"started": False, "reason": self.snapshot_error}
        self.snapshot_task = asyncio.create_task(self._write_snapshot(session, generation))
        return {"started": True, "journal": generation}

    async def _write_snapshot(self, session, generation: int) -> None:
        started = time.monotonic()
        temporary, final = self.data_dir / "snapshot.tmp", self.data_dir / SNAPSHOT_FILE
        count = 0
        try:
            databases = [name for name in await self.local.list_database_names() if name not in ("admin", "local", "config")]
            collections = {name: await self.local[name].list_collection_names(session=session) for name in databases}
            with open(temporary, "wb") as file:
                file.write(bson.encode({"snapshot": {"journal": generation, "at": datetime.now(UTC)}}))
                for database, names in collections.items():
                    for name in names:
                        async for document in self.local[database][name].find({}, session=session):
                            file.write(bson.encode({"db": database, "c": name, "d": document}))
                            count += 1
                            if count % 500 == 0:
                                await asyncio.sleep(0)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, final)
            _fsync_directory(self.data_dir)
            self.journal.remove_before(generation)
        except Exception as error:
            self._snapshot_failed(error)
            return
        finally:
            _end(session)
        self.snapshot_error = None
        self.executor.failure = None
        self.last_snapshot = {"documents": count, "seconds": round(time.monotonic() - started, 3), "journal": generation}

    def _snapshot_failed(self, error: Exception) -> None:
        self.snapshot_error = f"the snapshot could not be written ({type(error).__name__}: {error})"

    def status(self) -> dict[str, Any]:
        writing = self.snapshot_task is not None and not self.snapshot_task.done()
        return {
            "durable": self.executor.failure is None,
            "failure": self.executor.failure,
            "snapshotError": self.snapshot_error,
            "journalBytes": self.journal.bytes,
            "journalRecords": self.executor.records,
            "snapshotting": writing,
            "lastSnapshot": self.last_snapshot,
        }


def _end(session) -> None:
    with contextlib.suppress(Exception):
        session.abort_transaction()
    with contextlib.suppress(Exception):
        session.close()


def read_records(path: Path) -> Iterator[tuple[dict, int]]:
    """Each complete BSON record of a file with the offset where it ends; stops at the first torn or corrupt one."""
    with open(path, "rb") as file:
        while len(head := file.read(4)) == 4:
            size = int.from_bytes(head, "little")
            body = file.read(max(size - 4, 0))
            if size < 5 or len(body) < size - 4:
                return
            try:
                record = bson.decode(head + body)
            except Exception:
                return
            yield record, file.tell()


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


async def serve(data_dir: Path | None) -> None:
    """Serve; each line on standard input is a request `{"id", "op", …}`, answered by a line with the same id."""
    check_engine()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    engine = FlatInsertEngine()
    async with AsyncMongoEcoProxyServer(engine=engine, host="127.0.0.1", port=0) as proxy:
        store = None
        if data_dir is not None:
            data_dir.mkdir(parents=True, exist_ok=True)
            store = Store(engine, JournaledExecutor(proxy._executor, Journal(data_dir)), data_dir)
        print(proxy.address.port, flush=True)
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Task] = set()
        while line := await loop.run_in_executor(None, sys.stdin.buffer.readline):
            task = asyncio.create_task(_answer(store, json.loads(line)))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if store is not None:
            store.journal.close()


async def _answer(store: Store | None, request: dict) -> None:
    try:
        match request["op"]:
            case "open":
                result = await store.open(request["database"])
            case "snapshot":
                result = await store.begin_snapshot()
            case "status":
                result = store.status()
            case other:
                raise ValueError(f"unknown request {other!r}")
        reply = {"id": request["id"], "ok": True, "result": result}
    except Exception as error:
        reply = {"id": request["id"], "ok": False, "error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(reply, default=str) + "\n")
    sys.stdout.flush()


class EmbeddedEngine:
    """The server's handle on its engine process: the URI to connect to, and requests over its pipes."""

    def __init__(self, child: asyncio.subprocess.Process, port: int) -> None:
        self._child = child
        self.uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        self._ids = iter(range(1, 1 << 62))
        self._waiting: dict[int, asyncio.Future] = {}
        self._reader = asyncio.create_task(self._read_answers())

    async def request(self, op: str, **fields: Any) -> Any:
        request_id = next(self._ids)
        answer = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        self._child.stdin.write(json.dumps({"id": request_id, "op": op, **fields}).encode() + b"\n")
        await self._child.stdin.drain()
        reply = await answer
        if not reply["ok"]:
            raise RuntimeError(f"embedded engine: {op} failed: {reply['error']}")
        return reply["result"]

    async def _read_answers(self) -> None:
        while line := await self._child.stdout.readline():
            reply = json.loads(line)
            waiting = self._waiting.pop(reply["id"], None)
            if waiting is not None and not waiting.done():
                waiting.set_result(reply)
        for waiting in self._waiting.values():
            if not waiting.done():
                waiting.set_result({"ok": False, "error": "the engine process exited"})

    async def open(self, database: str) -> dict[str, int]:
        """Load the snapshot and replay the journal (make the indexes first: a loaded document is checked against them cheaply)."""
        return await self.request("open", database=database)

    async def begin_snapshot(self) -> dict[str, Any]:
        return await self.request("snapshot")

    async def status(self) -> dict[str, Any]:
        return await self.request("status")


@contextlib.asynccontextmanager
async def embedded_mongo(data_dir: Path | None = None) -> AsyncIterator[EmbeddedEngine]:
    """Start the engine in a child process (durable in `data_dir` when given); yields it (its `uri` for PyMongo)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.infra.embedded_mongo", *([str(data_dir)] if data_dir is not None else []),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True, limit=1 << 20,
    )  # fmt: skip
    try:
        line = await asyncio.wait_for(child.stdout.readline(), STARTUP_TIMEOUT_SECONDS)
        if not line.strip().isdigit():
            raise RuntimeError("the embedded MongoDB engine did not start")
        engine = EmbeddedEngine(child, int(line))
        yield engine
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 5)
        except TimeoutError:
            child.kill()
            await child.wait()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]) if len(sys.argv) > 1 else None))
