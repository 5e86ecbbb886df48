"""Deploys that clients ride through: shutdown drops transports without a goodbye, so clients reconnect by themselves, in bounded time.

Two real clients: python-socketio's `AsyncClient` with reconnection on, and the official
JavaScript `socket.io-client` running `examples/js/client.mjs` under Node (installed with
npm from the example's lock file).
"""

import asyncio
import json
import shutil
import signal
import subprocess
import time

import pytest
import socketio

from tests.conftest import register
from tests.money import eventually, ok
from tests.servers import ROOT, ServerProcess

EXAMPLE = ROOT / "examples" / "js"


@pytest.fixture(scope="session")
def node_example():
    """`npm ci` in examples/js (once per session); the tests need Node and npm, like CI."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js and npm are needed to run the JavaScript client example (examples/js)")
    installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=EXAMPLE, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return node


async def test_100_python_clients_reconnect_by_themselves_after_a_restart_and_shutdown_stays_in_its_budget():
    process = ServerProcess(env={"SHUTDOWN_TIMEOUT_SECONDS": "3", "MAX_PENDING_SESSIONS_PER_IP": "1000"}).start()
    clients, reasons = [], []
    try:
        account = await register(process.url)
        for _ in range(100):
            client = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
            client.on("disconnect", reasons.append)
            await client.connect(process.url, auth={"token": account["accessToken"]}, transports=["websocket"], wait_timeout=5)
            clients.append(client)

        started = time.monotonic()
        process.process.send_signal(signal.SIGTERM)
        assert await asyncio.get_running_loop().run_in_executor(None, process.process.wait, 30) == 0
        assert time.monotonic() - started <= 3 + 1
        await eventually(lambda: len(reasons), lambda count: count == 100, timeout=10)
        assert set(reasons) <= {"transport close", "transport error"}, set(reasons)  # accidents, not "io server disconnect"
        lines = [json.loads(line) for line in process.log_path.read_text().splitlines() if "shutdown" in line]
        assert [line["message"] for line in lines] == ["shutdown started", "shutdown finished"]
        assert (lines[0]["sockets"], lines[1]["socketsClosed"]) == (100, 100) and lines[1]["seconds"] <= 3 + 1

        process.start()
        await eventually(lambda: sum(client.connected for client in clients), lambda count: count == 100, timeout=30)
        assert (await ok(clients[0], "me:get"))["user"]["id"] == account["user"]["id"]
    finally:
        await asyncio.gather(*(client.disconnect() for client in clients), return_exceptions=True)
        process.remove()


async def test_the_javascript_client_example_rides_through_a_restart_and_retries_safely(node_example):
    process = ServerProcess().start()
    try:
        account = await register(process.url)
        client = subprocess.Popen(
            [node_example, "client.mjs", process.url, account["user"]["email"], account["password"], "--stay", "8"],
            cwd=EXAMPLE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        lines: list[dict] = []
        reader = asyncio.get_running_loop().run_in_executor(None, _read_lines, client, lines)
        await eventually(lambda: [line for line in lines if line.get("event") == "ready"], bool, timeout=20)
        process.stop()
        process.start()
        await reader
        assert client.wait(timeout=30) == 0, lines
        events = [line["event"] for line in lines]
        assert events.count("connect") == 2 and events.count("caught-up") == 2, events
        assert {"event": "disconnect", "reason": "transport close"} in lines
        [retried] = [line for line in lines if line["event"] == "retried-create"]
        assert retried["same"] is True and retried["first"] == retried["again"]
        assert lines[-1] == {"event": "done", "connects": 2}
    finally:
        process.remove()


def _read_lines(process: subprocess.Popen, into: list[dict]) -> None:
    for raw in process.stdout:
        try:
            into.append(json.loads(raw))
        except json.JSONDecodeError:
            into.append({"event": "output", "text": raw.strip()})
