"""The embedded MongoDB-compatible engine, run as a child process of the server.

Run as `python -m server.embedded_mongo`: it serves mongoeco's in-memory engine over
the MongoDB wire protocol on a free loopback port, prints that port on its first
line of output, and exits when its standard input closes, so it never outlives the
server that started it (even one that was killed). It runs in a session of its own
so that Ctrl-C or a SIGTERM to the server's process group does not stop it before
the server has saved its last snapshot. Its own process gives it the second core.
"""

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator

from mongoeco.engines import MemoryEngine
from mongoeco.wire import AsyncMongoEcoProxyServer

STARTUP_TIMEOUT_SECONDS = 30


async def serve() -> None:
    async with AsyncMongoEcoProxyServer(engine=MemoryEngine(), host="127.0.0.1", port=0) as proxy:
        print(proxy.address.port, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.buffer.read)


@contextlib.asynccontextmanager
async def embedded_mongo() -> AsyncIterator[str]:
    """Start the engine in a child process and yield its `mongodb://` URI."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.embedded_mongo",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        line = await asyncio.wait_for(child.stdout.readline(), STARTUP_TIMEOUT_SECONDS)
        if not line.strip().isdigit():
            raise RuntimeError("the embedded MongoDB engine did not start")
        yield f"mongodb://127.0.0.1:{int(line)}/?directConnection=true"
    finally:
        child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), 5)
        except TimeoutError:
            child.kill()
            await child.wait()


if __name__ == "__main__":
    asyncio.run(serve())
