"""The embedded MongoDB-compatible engine, run as a child process of the server.

Run as `python -m server.infra.embedded_mongo`: it serves mongoeco's in-memory engine over
the MongoDB wire protocol on a free loopback port, prints that port on its first
line of output, and exits when its standard input closes, so it never outlives the
server that started it (even one that was killed). It runs in a session of its own
so that Ctrl-C or a SIGTERM to the server's process group does not stop it before
the server has saved its last snapshot. Its own process gives it the second core.

It also loads snapshots, on request, straight into the engine rather than over the
wire: every insert over the wire scans its whole collection, which made a restart with
8,000 documents in a collection take minutes; loaded in-process they take a second or two.
"""

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from mongoeco import AsyncMongoClient as InProcessClient
from mongoeco.engines import MemoryEngine
from mongoeco.wire import AsyncMongoEcoProxyServer

from server.infra import snapshot

STARTUP_TIMEOUT_SECONDS = 30


async def serve() -> None:
    """Serve; each line on standard input is a load request `{"snapshot": path, "database": name}`, answered with the count."""
    engine = MemoryEngine()
    local = InProcessClient(engine)
    async with AsyncMongoEcoProxyServer(engine=engine, host="127.0.0.1", port=0) as proxy:
        print(proxy.address.port, flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.buffer.readline):
            request = json.loads(line)
            print(await snapshot.load(local[request["database"]], Path(request["snapshot"])), flush=True)


class EmbeddedEngine:
    def __init__(self, child: asyncio.subprocess.Process, port: int) -> None:
        self._child = child
        self.uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"

    async def load_snapshot(self, path: Path, database: str) -> int:
        """Load a snapshot file (if there is one) into the engine, in its own process; returns the documents loaded.

        Make the indexes first: the engine checks a unique index against loaded documents
        cheaply, but building one over documents already there takes time quadratic in them.
        """
        self._child.stdin.write(json.dumps({"snapshot": str(path), "database": database}).encode() + b"\n")
        await self._child.stdin.drain()
        return int(await self._child.stdout.readline())


@contextlib.asynccontextmanager
async def embedded_mongo() -> AsyncIterator[EmbeddedEngine]:
    """Start the engine in a child process; yields it (its `uri` for PyMongo)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.infra.embedded_mongo",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        line = await asyncio.wait_for(child.stdout.readline(), STARTUP_TIMEOUT_SECONDS)
        if not line.strip().isdigit():
            raise RuntimeError("the embedded MongoDB engine did not start")
        yield EmbeddedEngine(child, int(line))
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 5)
        except TimeoutError:
            child.kill()
            await child.wait()


if __name__ == "__main__":
    asyncio.run(serve())
