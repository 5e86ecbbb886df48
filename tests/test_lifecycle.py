"""Whole-process behaviour: restart persistence, graceful shutdown, admin CLI, per-IP limits."""

import asyncio
import os
import signal

import pytest

from tests.conftest import call, connect, post, register, unique_email


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_data_survives_a_graceful_restart(own_server, stop_signal):
    server = own_server()
    account = await register(server.url)
    client = await connect(server.url, account["accessToken"])
    await call(client, "me:update", {"bio": "kept"})
    await client.disconnect()
    assert server.stop(stop_signal) == 0
    server.start()
    status, answer = await post(server.url, "/api/auth/login", {"email": account["user"]["email"], "password": account["password"]})
    assert status == 200
    client = await connect(server.url, answer["data"]["accessToken"])
    assert (await call(client, "me:get"))["data"]["user"]["bio"] == "kept"
    await client.disconnect()
    assert (await post(server.url, "/api/auth/refresh", {"refreshToken": account["refreshToken"]}))[0] == 200


async def test_periodic_snapshot_keeps_data_through_a_crash(own_server):
    server = own_server(SNAPSHOT_INTERVAL_SECONDS="0.2")
    account = await register(server.url)
    await asyncio.sleep(1)
    server.stop(signal.SIGKILL)
    server.start()
    assert (await post(server.url, "/api/auth/login", {"email": account["user"]["email"], "password": account["password"]}))[0] == 200


async def test_shutdown_closes_sockets_and_exits_cleanly(own_server):
    server = own_server()
    account = await register(server.url)
    client = await connect(server.url, account["accessToken"])
    disconnected = asyncio.Event()
    client.on("disconnect", lambda *reason: disconnected.set())
    exit_code = asyncio.get_running_loop().run_in_executor(None, server.stop)
    await asyncio.wait_for(disconnected.wait(), 10)
    assert await exit_code == 0


@pytest.mark.skipif(bool(os.environ.get("MONGODB_URI")), reason="the DATA_DIR lock guards the embedded engine only")
async def test_create_admin_refuses_while_the_embedded_server_runs(own_server):
    server = own_server()
    refused = server.run_cli("create-admin", unique_email("admin"), "admin-password")
    assert refused.returncode != 0 and "in use by a running server" in refused.stderr


async def test_create_admin_makes_an_admin(own_server):
    server = own_server()
    email = unique_email("admin")
    server.stop()
    created = server.run_cli("create-admin", email, "admin-password", "--name", "Root")
    assert created.returncode == 0, created.stderr
    server.start()
    status, answer = await post(server.url, "/api/auth/login", {"email": email, "password": "admin-password"})
    assert status == 200 and answer["data"]["user"] | {} == answer["data"]["user"] | {"role": "admin", "name": "Root"}
    assert (await post(server.url, "/api/auth/register", {"name": "x", "email": unique_email(), "password": "password1", "role": "admin"}))[0] == 400


async def test_create_admin_promotes_an_existing_account(own_server):
    server = own_server()
    account = await register(server.url, role="contractor")
    server.stop()
    assert server.run_cli("create-admin", account["user"]["email"].upper(), "new-admin-password", "--promote").returncode == 0
    server.start()
    status, answer = await post(server.url, "/api/auth/login", {"email": account["user"]["email"], "password": "new-admin-password"})
    assert (status, answer["data"]["user"]["role"], answer["data"]["user"]["id"]) == (200, "admin", account["user"]["id"])


async def test_failures_from_one_address_are_rate_limited(own_server):
    server = own_server(LOGIN_MAX_FAILURES_PER_IP="3")
    for _ in range(3):
        assert (await post(server.url, "/api/auth/login", {"email": unique_email(), "password": "wrong password"}))[0] == 401
    status, answer = await post(server.url, "/api/auth/login", {"email": unique_email(), "password": "wrong password"})
    assert (status, answer["error"]["code"]) == (429, "rate_limited")


async def test_audit_ledger_command_reports_clean_books_with_a_wallet_per_user(own_server):
    server = own_server()
    for _ in range(3):
        await register(server.url)
    server.stop()
    result = server.run_cli("audit-ledger")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "CLEAN" in result.stdout
    assert "accounts: 7," in result.stdout, "three wallets and the four platform accounts"
