"""Shared fixtures: one embedded-mode server for most tests, Redis, a fake Stripe, and client helpers."""

import asyncio
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import aiohttp
import pytest
import redis
import socketio

from tests.fake_stripe import FakeStripe
from tests.servers import ROOT, ServerProcess, free_port
from tests.shapes import MISMATCHES, CheckedClient

WEBHOOK_SECRET = "whsec_test_secret"
ADMIN = {"email": "admin@example.com", "password": "admin password"}


def stripe_env(fake: FakeStripe) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": f"sk_test_{uuid.uuid4().hex}",
        "STRIPE_API_BASE": fake.url,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PUBLIC_URL": "https://api.example.test",
        "PAYOUT_RETRY_SECONDS": "0.3",
        "PAYOUT_LEASE_SECONDS": "2",
        "MAX_UPLOAD_BYTES": "200000",
    }


def money_server(fake: FakeStripe, **env: str) -> ServerProcess:
    """A server (not yet started) talking to the fake Stripe, with `ADMIN` created in its data."""
    process = ServerProcess(env=stripe_env(fake) | env)
    process.run_cli("create-admin", ADMIN["email"], ADMIN["password"]).check_returncode()
    return process


@pytest.fixture(scope="session", autouse=True)
def shapes_checked():
    """At the end of the session: no ack or push any test saw differed from its declared shape."""
    yield
    assert not MISMATCHES, "acks or pushes that differ from their declared shapes:\n" + "\n".join(MISMATCHES[:20])


@pytest.fixture(scope="session")
def fake_stripe():
    return FakeStripe().start()


@pytest.fixture(scope="session")
def server(fake_stripe):
    """Shared by tests that only add their own users; tests that restart or reconfigure start their own.

    At the end its books must audit clean, whatever the tests did to them.
    """
    process = money_server(fake_stripe)
    yield process.start()
    try:
        process.audit_clean()
    finally:
        process.remove()


@pytest.fixture
def own_server():
    """Start servers of the test's own (`own_server(SETTING="value")`), removed with their data afterwards."""
    servers: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        servers.append(ServerProcess(env=env).start())
        return servers[-1]

    yield start
    for process in servers:
        process.remove()


@pytest.fixture(scope="session")
def redis_url():
    """`REDIS_URL`, else the machine's 127.0.0.1:6379, else a `redis-server` started for the session."""
    candidates = [os.environ.get("REDIS_URL"), "redis://127.0.0.1:6379/0"]
    for url in filter(None, candidates):
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
            yield url
            return
        except redis.ConnectionError:
            continue
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("no Redis reachable and no redis-server to start: install redis-server")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(50):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait()


@pytest.fixture(scope="session")
def mongodb_uri():
    """A standalone engine process, shared by the servers of tests that need a database outside any one server
    (RQ workers, several web processes, killed servers); each server still gets a database of its own."""
    engine = subprocess.Popen(
        [sys.executable, "-m", "server.infra.embedded_mongo"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    port = int(engine.stdout.readline())
    yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    engine.stdin.close()
    engine.wait(10)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


async def post(base: str, path: str, body) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        async with http.post(base + path, json=body) as response:
            return response.status, await response.json()


async def register(base: str, role: str = "customer", **fields) -> dict:
    body = {"name": "Test User", "email": unique_email(role), "password": "correct horse", "role": role} | fields
    status, answer = await post(base, "/api/auth/register", body)
    assert status == 201, answer
    return answer["data"] | {"password": body["password"]}


async def connect(base: str, token: str | None) -> socketio.AsyncClient:
    client = CheckedClient(reconnection=False)
    await client.connect(base, auth={"token": token} if token else None, transports=["websocket"], wait_timeout=5)
    return client


ACK_SECONDS = 10
"""How long one ack may take on a busy machine with nothing queued ahead of it."""
SECONDS_PER_QUEUED_WRITE = 0.25
"""What each write queued ahead adds (embedded mode serializes writes; one takes ~5 ms idle, far more on a loaded 2-core machine)."""


async def call(client: socketio.AsyncClient, event: str, data=None, *, queued: int = 1) -> dict:
    """Emit with an ack; `None` sends no payload, a tuple sends several arguments.

    `queued` is how many writes this call may wait behind (a concurrent burst: its size),
    so the wait is derived from the work queued rather than guessed.
    """
    return await client.call(event, data, timeout=ACK_SECONDS + queued * SECONDS_PER_QUEUED_WRITE)


async def call_many(client: socketio.AsyncClient, event: str, payloads: list) -> list[dict]:
    """The calls at once; each may wait behind all of them."""
    return await asyncio.gather(*(call(client, event, payload, queued=len(payloads)) for payload in payloads))


async def login(base: str, email: str, password: str) -> dict:
    status, answer = await post(base, "/api/auth/login", {"email": email, "password": password})
    assert status == 200, answer
    return answer["data"]


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header as Stripe computes it: HMAC-SHA256 of `<t>.<payload>`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def stripe_event(type: str, subject: dict, **fields) -> dict:
    return {"id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": type, "created": int(time.time()), "data": {"object": subject}} | fields


async def send_webhook(base: str, event: dict, signature: str | None = "sign") -> tuple[int, dict]:
    payload = json.dumps(event)
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["Stripe-Signature"] = sign(payload) if signature == "sign" else signature
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/api/webhooks/stripe", data=payload, headers=headers) as response:
            return response.status, await response.json()
