"""Attacks tried from outside: admin takeover through `create-admin`, ghost users, sessions that outlive logout,
idle unauthenticated sessions, write floods, and blocks bypassed through groups."""

import asyncio
import time
import uuid

import engineio
import pytest
import socketio
from pymongo import MongoClient

from tests.conftest import call, call_many, connect, login, post, register
from tests.marketplace import PNG, upload
from tests.money import Pushes, error_code, ok, user_socket
from tests.servers import ServerProcess

OPERATOR_PASSWORD = "operator's own password"


class Watched:
    """A socket's `session:revoked` pushes and its disconnect, as they arrive."""

    def __init__(self, client: socketio.AsyncClient) -> None:
        self.client = client
        self.revoked: list[dict] = []
        self.gone = asyncio.Event()
        client.on("session:revoked", self.revoked.append)
        client.on("disconnect", lambda *reason: self.gone.set())

    async def ended(self, timeout: float = 1.5) -> dict:
        """The socket was told why and closed by the server, within `timeout` seconds."""
        await asyncio.wait_for(self.gone.wait(), timeout)
        assert len(self.revoked) == 1, self.revoked
        return self.revoked[0]


async def refused(base: str, token: str) -> bool:
    """True when a socket connect with this token gets `connect_error` `unauthorized`."""
    client = socketio.AsyncClient(reconnection=False)
    errors = []
    client.on("connect_error", errors.append)
    try:
        await client.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        return [error["message"] for error in errors] == ["unauthorized"]
    await client.disconnect()
    return False


@pytest.fixture(scope="module")
def deployment(redis_url, mongodb_uri):
    """Two web processes sharing one database and Redis, as in production; `create-admin` runs beside them."""
    database = f"test_{uuid.uuid4().hex[:12]}"
    env = {"REDIS_URL": redis_url, "MONGODB_URI": mongodb_uri}
    servers = [ServerProcess(env=env, database=database).start() for _ in range(2)]
    yield servers
    for process in servers:
        process.remove()


async def test_create_admin_does_not_hand_an_attackers_account_admin_rights(own_server):
    server = own_server()
    email = f"ops-admin-{uuid.uuid4().hex[:6]}@company.example"
    attacker = await register(server.url, name="Mallory", email=email, password="attacker password")
    server.stop()

    plain = server.run_cli("create-admin", email, OPERATOR_PASSWORD)
    assert plain.returncode == 1 and "already exists" in plain.stderr and "--promote" in plain.stderr, plain.stderr
    promoted = server.run_cli("create-admin", email, OPERATOR_PASSWORD, "--promote")
    assert promoted.returncode == 0, promoted.stderr
    assert "promoted" in promoted.stdout and "'Mallory', a customer since" in promoted.stdout and "1 session(s) ended" in promoted.stdout
    server.start()

    status, answer = await post(server.url, "/api/auth/refresh", {"refreshToken": attacker["refreshToken"]})
    assert (status, answer["error"]["code"]) == (401, "invalid_token")
    assert await refused(server.url, attacker["accessToken"])
    assert (await post(server.url, "/api/auth/login", {"email": email, "password": "attacker password"}))[0] == 401
    operator = await connect(server.url, (await login(server.url, email, OPERATOR_PASSWORD))["accessToken"])
    assert (await ok(operator, "admin:withdrawals"))["pagination"]["total"] == 0
    await operator.disconnect()


async def test_promoting_a_live_account_ends_its_sockets_on_every_process(deployment):
    first, second = deployment
    email = f"ops-admin-{uuid.uuid4().hex[:6]}@company.example"
    attacker = await register(first.url, name="Mallory", email=email)
    on_first, on_second = Watched(await connect(first.url, attacker["accessToken"])), Watched(await connect(second.url, attacker["accessToken"]))

    assert first.run_cli("create-admin", email, OPERATOR_PASSWORD).returncode == 1
    assert (await ok(on_first.client, "me:get"))["user"]["role"] == "customer"
    promoted = first.run_cli("create-admin", email, OPERATOR_PASSWORD, "--promote")
    assert promoted.returncode == 0 and "through Redis" in promoted.stdout, promoted.stdout + promoted.stderr
    assert await on_first.ended() == await on_second.ended() == {"reason": "promoted"}

    assert (await post(first.url, "/api/auth/refresh", {"refreshToken": attacker["refreshToken"]}))[0] == 401
    assert await refused(second.url, attacker["accessToken"])
    operator = await connect(second.url, (await login(second.url, email, OPERATOR_PASSWORD))["accessToken"])
    assert (await ok(operator, "me:get"))["user"]["role"] == "admin"
    await operator.disconnect()


async def test_a_frozen_admin_loses_admin_rights_at_once_until_unfrozen(deployment):
    first, second = deployment
    chief, suspect = f"chief-{uuid.uuid4().hex[:6]}@example.com", f"suspect-{uuid.uuid4().hex[:6]}@example.com"
    for email in (chief, suspect):
        assert first.run_cli("create-admin", email, OPERATOR_PASSWORD).returncode == 0
    chief_socket = await connect(first.url, (await login(first.url, chief, OPERATOR_PASSWORD))["accessToken"])
    suspect_session = await login(second.url, suspect, OPERATOR_PASSWORD)
    suspect_socket = Watched(await connect(second.url, suspect_session["accessToken"]))
    suspect_id = suspect_session["user"]["id"]

    await ok(chief_socket, "admin:wallet:freeze", {"userId": suspect_id, "frozen": True, "reason": "investigating"})
    assert await suspect_socket.ended() == {"reason": "suspended"}
    assert await refused(second.url, suspect_session["accessToken"])

    await ok(chief_socket, "admin:wallet:freeze", {"userId": suspect_id, "frozen": False, "reason": "cleared"})
    back = await connect(second.url, suspect_session["accessToken"])
    assert (await ok(back, "admin:withdrawals"))["pagination"]["total"] >= 0
    await asyncio.gather(back.disconnect(), chief_socket.disconnect())


async def test_a_token_whose_user_was_deleted_is_refused_at_connect_and_over_http(deployment, mongodb_uri):
    first, _ = deployment
    ghost = await register(first.url)
    assert (await upload(first.url, ghost["accessToken"], PNG))[0] == 201
    with MongoClient(mongodb_uri) as client:
        assert client[first.database]["users"].delete_one({"email": ghost["user"]["email"]}).deleted_count == 1
    assert await refused(first.url, ghost["accessToken"])
    status, answer = await upload(first.url, ghost["accessToken"], PNG)
    assert (status, answer["error"]["code"]) == (401, "unauthorized")


async def test_logout_ends_that_sessions_sockets_and_leaves_the_other_session(server):
    account = await register(server.url)
    other_device = await login(server.url, account["user"]["email"], account["password"])
    phone, tablet = Watched(await connect(server.url, account["accessToken"])), Watched(await connect(server.url, account["accessToken"]))
    laptop = Watched(await connect(server.url, other_device["accessToken"]))

    assert await post(server.url, "/api/auth/logout", {"refreshToken": account["refreshToken"]}) == (200, {"ok": True, "data": {}})
    assert await phone.ended(1) == await tablet.ended(1) == {"reason": "logout"}
    assert await refused(server.url, account["accessToken"])
    status, answer = await upload(server.url, account["accessToken"], PNG)
    assert (status, answer["error"]["code"]) == (401, "unauthorized")

    assert laptop.client.connected and not laptop.revoked
    assert (await ok(laptop.client, "me:update", {"bio": "still here"}))["user"]["bio"] == "still here"
    assert (await upload(server.url, other_device["accessToken"], PNG))[0] == 201
    await laptop.client.disconnect()


async def test_logout_reaches_the_sessions_sockets_on_another_process(deployment):
    first, second = deployment
    account = await register(first.url)
    other_device = await login(second.url, account["user"]["email"], account["password"])
    here, there = Watched(await connect(first.url, account["accessToken"])), Watched(await connect(second.url, account["accessToken"]))
    elsewhere = Watched(await connect(second.url, other_device["accessToken"]))

    assert (await post(first.url, "/api/auth/logout", {"refreshToken": account["refreshToken"]}))[0] == 200
    assert await here.ended(1) == await there.ended(1) == {"reason": "logout"}
    assert await refused(second.url, account["accessToken"])
    assert (await ok(elsewhere.client, "me:get"))["user"]["id"] == account["user"]["id"]
    await elsewhere.client.disconnect()


async def test_a_reused_refresh_token_ends_the_live_session(server):
    account = await register(server.url)
    socket = Watched(await connect(server.url, account["accessToken"]))
    assert (await post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]}))[0] == 200
    assert (await post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]}))[0] == 401
    assert await socket.ended() == {"reason": "token_reuse"}


async def test_idle_unauthenticated_sessions_are_closed_and_bounded_per_address(own_server):
    server = own_server(CONNECT_TIMEOUT_SECONDS="1.5", MAX_PENDING_SESSIONS_PER_IP="3")
    idle = [engineio.AsyncClient() for _ in range(3)]
    closed = [asyncio.Event() for _ in idle]
    for client, event in zip(idle, closed, strict=True):
        client.on("disconnect", lambda *reason, event=event: event.set())
        await client.connect(server.url, transports=["websocket"], engineio_path="socket.io")
    with pytest.raises(engineio.exceptions.ConnectionError):
        await engineio.AsyncClient().connect(server.url, transports=["websocket"], engineio_path="socket.io")
    for _ in range(20):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await _one_more_session(server.url)

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(event.wait() for event in closed)), 5)
    assert time.monotonic() - started < 3
    session = await register(server.url)
    client = await connect(server.url, session["accessToken"])
    assert (await ok(client, "sys:ping"))["serverTime"]
    await client.disconnect()
    lines = [line for line in server.log_path.read_text().splitlines() if "unauthenticated sessions refused or closed" in line]
    assert 1 <= len(lines) <= 5, lines


async def _one_more_session(base: str) -> None:
    """One more Engine.IO connection from the same address while it is at its limit."""
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(base, transports=["websocket"], wait_timeout=2)


async def test_a_write_flood_is_rate_limited_and_other_users_keep_writing(server):
    (_, flooding), (_, bystander) = await user_socket(server.url, "customer"), await user_socket(server.url, "customer")
    answers = await call_many(flooding, "me:update", [{"bio": f"flood {i}"} for i in range(60)])
    accepted = {f"flood {i}" for i, answer in enumerate(answers) if answer["ok"]}
    limited = [answer["error"] for answer in answers if not answer["ok"]]
    assert len(accepted) == 20 and len(limited) == 40
    assert all(error["code"] == "rate_limited" and error["details"]["retryAfter"] >= 1 for error in limited)
    assert (await ok(bystander, "me:update", {"bio": "unaffected"}))["user"]["bio"] == "unaffected"
    assert (await ok(flooding, "me:get"))["user"]["bio"] in accepted
    assert flooding.connected
    await asyncio.gather(flooding.disconnect(), bystander.disconnect())


async def test_a_block_reaches_groups_and_presence(server):
    (alice, alice_c), (bob, bob_c), (carol, carol_c) = [await user_socket(server.url, "customer") for _ in range(3)]
    ids = {name: session["user"]["id"] for name, session in (("alice", alice), ("bob", bob), ("carol", carol))}
    await ok(alice_c, "chat:block", {"userId": ids["bob"]})

    assert await error_code(bob_c, "chat:create", {"name": "Trap", "memberIds": [ids["alice"], ids["carol"]]}) == "blocked"
    own = (await ok(bob_c, "chat:create", {"name": "Bob's", "memberIds": [ids["carol"]]}))["room"]
    assert await error_code(bob_c, "chat:members:add", {"roomId": own["id"], "userIds": [ids["alice"]]}) == "blocked"

    shared = (await ok(carol_c, "chat:create", {"name": "Carol's", "memberIds": [ids["alice"], ids["bob"]]}))["room"]
    answer = await call(bob_c, "presence:subscribe", {"userIds": [ids["alice"]]})
    assert (answer["error"]["code"], answer["error"]["details"]) == ("forbidden", {"userIds": [ids["alice"]]})
    assert (await ok(carol_c, "presence:subscribe", {"userIds": [ids["alice"]]}))["online"] == {ids["alice"]: True}

    at_alice, at_carol = Pushes(alice_c, "chat:message"), Pushes(carol_c, "chat:message")
    sent = (await ok(bob_c, "chat:send", {"roomId": shared["id"], "text": "you can't avoid me", "clientMsgId": "b1"}))["message"]
    assert (await at_carol.next("chat:message"))["message"] == sent
    reply = (await ok(alice_c, "chat:send", {"roomId": shared["id"], "text": "hi carol", "clientMsgId": "a1"}))["message"]
    assert (await at_alice.next("chat:message"))["message"] == reply
    assert at_alice.queues["chat:message"].empty()
    assert [m["text"] for m in (await ok(alice_c, "chat:history", {"roomId": shared["id"]}))["messages"]] == ["you can't avoid me", "hi carol"]
    await asyncio.gather(alice_c.disconnect(), bob_c.disconnect(), carol_c.disconnect())
