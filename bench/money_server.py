"""The Stripe-backed server the money benches drive: an admin socket to start, the audit at the end."""

import contextlib
from collections.abc import AsyncIterator

import socketio

from bench.loadgen import LOAD_FROM_ONE_ADDRESS
from tests.conftest import money_server
from tests.fake_stripe import FakeStripe
from tests.money import admin_socket
from tests.servers import ServerProcess


@contextlib.asynccontextmanager
async def bench_server(log_level: str) -> AsyncIterator[tuple[ServerProcess, socketio.AsyncClient]]:
    """A server in front of a local fake Stripe, and an admin's socket; removed (with its data) afterwards."""
    server = money_server(FakeStripe().start(), LOG_LEVEL=log_level, ACCESS_TOKEN_TTL_SECONDS="3600", **LOAD_FROM_ONE_ADDRESS).start()
    try:
        yield server, await admin_socket(server.url)
    finally:
        server.remove()


def audit(server: ServerProcess) -> str:
    """Stop the server and say what `audit-ledger` found: its first line, or the failure."""
    server.stop()
    result = server.run_cli("audit-ledger")
    return result.stdout.splitlines()[0] if result.returncode == 0 else f"FAILED: {result.stdout}"
