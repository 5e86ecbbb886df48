"""Socket authentication, the event envelope, error codes and session expiry."""

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import socketio
from bson import ObjectId

from tests.conftest import call, call_many, connect, post, register
from tests.servers import JWT_SECRET
from tests.shapes import CheckedClient


def token(user_id: str, role: str = "customer", *, ttl: float = 60, secret: str = JWT_SECRET, sid: str = "no-such-session", **extra) -> str:
    now = datetime.now(UTC)
    claims = {"sub": user_id, "role": role, "sid": sid, "iat": now, "exp": now + timedelta(seconds=ttl), "typ": "access"} | extra
    return jwt.encode(claims, secret, algorithm="HS256")


def reissued(account: dict, *, ttl: float) -> str:
    """The account's own access token (same user, role and session) with another lifetime."""
    claims = jwt.decode(account["accessToken"], options={"verify_signature": False})
    return token(claims["sub"], claims["role"], ttl=ttl, sid=claims["sid"])


@pytest.fixture
async def customer(server):
    account = await register(server.url)
    client = await connect(server.url, account["accessToken"])
    yield account, client
    await client.disconnect()


async def refusal(base: str, auth_token) -> dict:
    """The `connect_error` a connection with this token gets."""
    client = socketio.AsyncClient(reconnection=False)
    errors = []
    client.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(base, auth={"token": auth_token}, transports=["websocket"], wait_timeout=5)
    [error] = errors
    return error


@pytest.mark.parametrize(
    "auth_token",
    [
        None,
        "",
        "garbage",
        token(str(ObjectId()), ttl=-5, secret="another-secret-of-sufficient-length-0123"),
        token(str(ObjectId()), ttl=86_400, secret="another-secret-of-sufficient-length-0123"),
        token(str(ObjectId()), ttl=86_400, typ="refresh"),
        "header.payload.signature",
    ],
)
async def test_connections_with_a_token_that_is_not_ours_are_refused_as_invalid(server, auth_token):
    assert await refusal(server.url, auth_token) == {"message": "unauthorized", "data": {"code": "invalid_token"}}


async def test_an_expired_token_and_a_garbage_token_get_different_codes(server):
    account = await register(server.url)
    assert await refusal(server.url, reissued(account, ttl=-5)) == {"message": "unauthorized", "data": {"code": "token_expired"}}
    assert await refusal(server.url, "garbage") == {"message": "unauthorized", "data": {"code": "invalid_token"}}


async def test_a_token_of_an_ended_session_is_refused_as_revoked(server):
    account = await register(server.url)
    await post(server.url, "/api/auth/logout", {"refreshToken": account["refreshToken"]})
    assert await refusal(server.url, account["accessToken"]) == {"message": "unauthorized", "data": {"code": "session_revoked"}}


async def test_ping_answers_with_server_time(customer):
    _, client = customer
    answer = await call(client, "sys:ping")
    assert answer["ok"] is True
    assert abs(datetime.fromisoformat(answer["data"]["serverTime"]) - datetime.now(UTC)) < timedelta(seconds=5)


async def test_me_get_returns_own_profile(customer):
    account, client = customer
    assert await call(client, "me:get", {}) == {"ok": True, "data": {"user": account["user"]}}


async def test_me_update_changes_profile_and_reaches_every_device(server, customer):
    account, phone = customer
    tablet = await connect(server.url, account["accessToken"])
    pushed = asyncio.get_running_loop().create_future()
    tablet.on("me:updated", pushed.set_result)
    answer = await call(phone, "me:update", {"name": "  New Name ", "bio": "Plumber", "skills": ["pipes", "gas", "pipes"]})
    assert answer["ok"] is True
    assert answer["data"]["user"] | {} == account["user"] | {"name": "New Name", "bio": "Plumber", "skills": ["pipes", "gas"]}
    assert (await asyncio.wait_for(pushed, 5)) == answer["data"]
    assert (await call(tablet, "me:get"))["data"] == answer["data"]
    await tablet.disconnect()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": 42}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 100_000}, "name"),
        ({"skills": "pipes"}, "skills"),
        ({"skills": ["ok", ""]}, "skills.1"),
        ({"skills": ["s"] * 31}, "skills"),
        ({"email": "take@over.com"}, "email"),
        ({"role": "admin"}, "role"),
    ],
)
async def test_bad_payloads_are_refused_and_change_nothing(customer, payload, field):
    account, client = customer
    answer = await call(client, "me:update", payload)
    assert answer["ok"] is False
    assert answer["error"]["code"] == "invalid_request"
    assert field in [item["field"] for item in answer["error"]["details"]["fields"]]
    assert (await call(client, "me:get"))["data"]["user"] == account["user"]


@pytest.mark.parametrize("payload", [[1, 2], "text", 7, True, ({}, {})])
async def test_non_object_payloads_are_invalid_requests(customer, payload):
    _, client = customer
    answer = await call(client, "me:update", payload)
    assert answer["error"]["code"] == "invalid_request"
    assert (await call(client, "sys:ping"))["ok"] is True


async def test_unknown_events_get_unknown_event(customer):
    _, client = customer
    answer = await call(client, "wallet:steal", {"amount": 1})
    assert answer == {"ok": False, "error": {"code": "unknown_event", "message": "There is no event named 'wallet:steal'.", "details": {}}}
    assert client.connected


async def test_expired_session_is_told_and_disconnected(server):
    account = await register(server.url)
    client = CheckedClient(reconnection=False)
    expired = asyncio.get_running_loop().create_future()
    disconnected = asyncio.Event()
    client.on("session:expired", lambda data: expired.set_result(data))
    client.on("disconnect", lambda *reason: disconnected.set())
    await client.connect(server.url, auth={"token": reissued(account, ttl=1.5)}, transports=["websocket"])
    assert await asyncio.wait_for(expired, 5) == {}
    await asyncio.wait_for(disconnected.wait(), 5)
    assert not client.connected


async def test_auth_refresh_extends_the_session(server):
    account = await register(server.url)
    client = await connect(server.url, reissued(account, ttl=1.5))
    expired = []
    client.on("session:expired", expired.append)
    answer = await call(client, "auth:refresh", {"accessToken": account["accessToken"]})
    assert answer["ok"] is True and answer["data"]["userId"] == account["user"]["id"]
    await asyncio.sleep(2.5)
    assert client.connected and not expired
    assert (await call(client, "sys:ping"))["ok"] is True
    await client.disconnect()


async def test_auth_refresh_refuses_other_users_and_bad_tokens(server, customer):
    account, client = customer
    other = await register(server.url)
    assert (await call(client, "auth:refresh", {"accessToken": other["accessToken"]}))["error"]["code"] == "forbidden"
    assert (await call(client, "auth:refresh", {"accessToken": token(account["user"]["id"])}))["error"]["code"] == "unauthorized"
    assert (await call(client, "auth:refresh", {"accessToken": "junk"}))["error"]["code"] == "unauthorized"
    assert (await call(client, "auth:refresh", {}))["error"]["code"] == "invalid_request"
    assert (await call(client, "me:get"))["ok"] is True


async def test_many_concurrent_events_on_one_socket_all_get_their_ack(customer):
    _, client = customer
    answers = await call_many(client, "sys:ping", [None] * 200)
    assert all(answer["ok"] for answer in answers)
