"""Accounts over HTTP: registration, sign-in, rate limits, refresh rotation, logout."""

import asyncio

import aiohttp
import pytest

from tests.conftest import post, register, unique_email


async def test_register_returns_user_and_tokens(server):
    email = unique_email()
    status, answer = await post(server.url, "/api/auth/register", {"name": "Ada", "email": email, "password": "s3cret-pass", "role": "contractor"})
    assert status == 201
    data = answer["data"]
    assert answer["ok"] is True
    assert len(data["user"]["referralCode"]) == 8
    assert data["user"] | {"id": "x", "createdAt": "x", "referralCode": "x"} == {
        "id": "x",
        "referralCode": "x",
        "name": "Ada",
        "email": email,
        "role": "contractor",
        "bio": "",
        "skills": [],
        "emailVerified": False,
        "createdAt": "x",
    }
    assert data["accessToken"].count(".") == 2 and len(data["refreshToken"]) >= 32
    assert "password" not in str(answer).lower()


async def test_email_is_unique_case_insensitively(server):
    email = unique_email()
    await register(server.url, email=email)
    status, answer = await post(
        server.url, "/api/auth/register", {"name": "B", "email": email.upper(), "password": "another-pass", "role": "customer"}
    )
    assert (status, answer["error"]["code"]) == (409, "email_taken")


async def test_concurrent_registrations_of_one_email_create_one_account(server):
    email = unique_email()
    body = {"name": "Racer", "email": email, "password": "racing-pass", "role": "customer"}
    results = await asyncio.gather(*(post(server.url, "/api/auth/register", body) for _ in range(10)))
    assert sorted(status for status, _ in results) == [201] + [409] * 9


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "A", "email": "not-an-email", "password": "long-enough", "role": "customer"}, "email"),
        ({"name": "A", "email": "a@example.com", "password": "short", "role": "customer"}, "password"),
        ({"name": "A", "email": "a@example.com", "password": "é" * 40, "role": "customer"}, "password"),
        ({"name": "A", "email": "a@example.com", "password": "long-enough", "role": "admin"}, "role"),
        ({"name": "", "email": "a@example.com", "password": "long-enough", "role": "customer"}, "name"),
        ({"name": "A" * 10_000, "email": "a@example.com", "password": "long-enough", "role": "customer"}, "name"),
        ({"email": "a@example.com", "password": "long-enough", "role": "customer"}, "name"),
        ({"name": 5, "email": "a@example.com", "password": "long-enough", "role": "customer"}, "name"),
        ({"name": "A", "email": "a@example.com", "password": "long-enough", "role": "customer", "isAdmin": True}, "isAdmin"),
    ],
)
async def test_bad_registrations_name_the_failing_field(server, body, field):
    status, answer = await post(server.url, "/api/auth/register", body)
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
    assert field in [item["field"] for item in answer["error"]["details"]["fields"]]


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b'"text"', b"", b"\xff\xfe"])
async def test_non_object_bodies_are_invalid_requests(server, raw):
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/api/auth/register", data=raw, headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "invalid_request"


async def test_login_succeeds_with_any_email_case(server):
    account = await register(server.url)
    status, answer = await post(server.url, "/api/auth/login", {"email": account["user"]["email"].upper(), "password": account["password"]})
    assert status == 200
    assert answer["data"]["user"]["id"] == account["user"]["id"]


async def test_wrong_password_and_unknown_email_look_the_same(server):
    account = await register(server.url)
    wrong_password = await post(server.url, "/api/auth/login", {"email": account["user"]["email"], "password": "wrong password"})
    unknown_email = await post(server.url, "/api/auth/login", {"email": unique_email(), "password": "wrong password"})
    assert (
        wrong_password
        == unknown_email
        == (401, {"ok": False, "error": {"code": "invalid_credentials", "message": "Email or password is incorrect.", "details": {}}})
    )


async def test_repeated_failures_for_one_email_are_rate_limited(server):
    account = await register(server.url)
    email = account["user"]["email"]
    for _ in range(5):
        status, _ = await post(server.url, "/api/auth/login", {"email": email, "password": "wrong password"})
        assert status == 401
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + "/api/auth/login", json={"email": email, "password": account["password"]}) as response:
            answer = await response.json()
            assert response.status == 429
            assert answer["error"]["code"] == "rate_limited"
            assert 0 < answer["error"]["details"]["retryAfter"] <= 15 * 60
            assert response.headers["Retry-After"] == str(answer["error"]["details"]["retryAfter"])
    other = await register(server.url)
    status, _ = await post(server.url, "/api/auth/login", {"email": other["user"]["email"], "password": other["password"]})
    assert status == 200


async def test_success_clears_the_failure_count(server):
    account = await register(server.url)
    email = account["user"]["email"]
    for _ in range(4):
        await post(server.url, "/api/auth/login", {"email": email, "password": "wrong password"})
    assert (await post(server.url, "/api/auth/login", {"email": email, "password": account["password"]}))[0] == 200
    for _ in range(4):
        assert (await post(server.url, "/api/auth/login", {"email": email, "password": "wrong password"}))[0] == 401
    assert (await post(server.url, "/api/auth/login", {"email": email, "password": account["password"]}))[0] == 200


async def test_refresh_rotates_the_token(server):
    account = await register(server.url)
    status, answer = await post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]})
    assert status == 200
    assert answer["data"]["refreshToken"] != account["refreshToken"]
    assert answer["data"]["user"]["id"] == account["user"]["id"]
    status, answer = await post(server.url, "/api/auth/refresh", {"refreshToken": answer["data"]["refreshToken"]})
    assert status == 200


async def test_reusing_a_rotated_token_revokes_the_whole_family(server):
    account = await register(server.url)
    _, rotated = await post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]})
    status, answer = await post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]})
    assert (status, answer["error"]["code"]) == (401, "invalid_token")
    status, answer = await post(server.url, "/api/auth/refresh", {"refreshToken": rotated["data"]["refreshToken"]})
    assert (status, answer["error"]["code"]) == (401, "invalid_token")
    _, fresh_login = await post(server.url, "/api/auth/login", {"email": account["user"]["email"], "password": account["password"]})
    assert (await post(server.url, "/api/auth/refresh", {"refreshToken": fresh_login["data"]["refreshToken"]}))[0] == 200


async def test_racing_refreshes_let_exactly_one_through(server):
    account = await register(server.url)
    results = await asyncio.gather(*(post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]}) for _ in range(5)))
    assert sorted(status for status, _ in results) == [200] + [401] * 4


async def test_logout_revokes_the_refresh_token(server):
    account = await register(server.url)
    assert await post(server.url, "/api/auth/logout", {"refreshToken": account["refreshToken"]}) == (200, {"ok": True, "data": {}})
    status, answer = await post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]})
    assert (status, answer["error"]["code"]) == (401, "invalid_token")


@pytest.mark.parametrize("body", [{"refreshToken": "made-up"}, {"refreshToken": ""}, {}, {"refreshToken": 12}])
async def test_bad_refresh_tokens_are_refused(server, body):
    status, answer = await post(server.url, "/api/auth/refresh", body)
    assert status in (400, 401)
    assert answer["error"]["code"] == ("invalid_token" if status == 401 else "invalid_request")


async def test_health_and_unknown_routes(server):
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/healthz") as response:
            assert (response.status, await response.json()) == (200, {"ok": True, "data": {"status": "up"}})
        async with http.get(server.url + "/readyz") as response:
            assert (response.status, (await response.json())["data"]) == (200, {"checks": {"mongodb": True, "persistence": True}})
        async with http.get(server.url + "/nope") as response:
            assert (response.status, (await response.json())["error"]["code"]) == (404, "not_found")
