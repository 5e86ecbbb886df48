"""Redis mode: pushes reach a user's sockets held by another server process.

Several web processes share one database (`MONGODB_URI`, as in production) and Redis.
"""

import asyncio
import signal
import uuid

import aiohttp
import pytest

from tests.conftest import call, connect, register
from tests.money import Pushes
from tests.servers import ServerProcess


def redis_server(redis_url: str, mongodb_uri: str, database: str) -> ServerProcess:
    """Shares Redis, the database and the JWT secret with the others."""
    return ServerProcess(env={"REDIS_URL": redis_url, "MONGODB_URI": mongodb_uri, "PRESENCE_HEARTBEAT_SECONDS": "0.5"}, database=database)


@pytest.fixture(scope="module")
def two_servers(redis_url, mongodb_uri):
    database = f"test_{uuid.uuid4().hex[:12]}"
    servers = [redis_server(redis_url, mongodb_uri, database).start() for _ in range(2)]
    yield servers
    for process in servers:
        process.remove()


async def test_pushes_fan_out_across_processes(two_servers):
    first, second = two_servers
    account = await register(first.url)
    on_first = await connect(first.url, account["accessToken"])
    on_second = await connect(second.url, account["accessToken"])
    received = asyncio.get_running_loop().create_future()
    on_second.on("me:updated", received.set_result)
    answer = await call(on_first, "me:update", {"name": "Everywhere"})
    assert answer["ok"] is True
    assert (await asyncio.wait_for(received, 5)) == answer["data"]
    await on_first.disconnect()
    await on_second.disconnect()


async def test_readyz_reports_redis(two_servers):
    async with aiohttp.ClientSession() as http:
        async with http.get(two_servers[0].url + "/readyz") as response:
            assert (await response.json())["data"]["checks"] == {"mongodb": True, "redis": True}


async def test_chat_messages_and_presence_cross_processes(two_servers):
    first, second = two_servers
    sender, watcher = await register(first.url), await register(first.url)
    sender_on_first = await connect(first.url, sender["accessToken"])
    watcher_on_first = await connect(first.url, watcher["accessToken"])
    room = (await call(sender_on_first, "chat:open", {"userId": watcher["user"]["id"]}))["data"]["room"]
    presence = Pushes(watcher_on_first, "presence")
    subscribed = await call(watcher_on_first, "presence:subscribe", {"userIds": [sender["user"]["id"]]})
    assert subscribed["data"]["online"] == {sender["user"]["id"]: True}
    watcher_on_second = await connect(second.url, watcher["accessToken"])
    messages = Pushes(watcher_on_second, "chat:message")
    sent = await call(sender_on_first, "chat:send", {"roomId": room["id"], "text": "across", "clientMsgId": "x1"})
    assert (await messages.next("chat:message"))["message"] == sent["data"]["message"]

    await sender_on_first.disconnect()
    assert await presence.next("presence") == {"userId": sender["user"]["id"], "online": False}
    sender_on_second = await connect(second.url, sender["accessToken"])
    assert await presence.next("presence") == {"userId": sender["user"]["id"], "online": True}
    await asyncio.gather(*(client.disconnect() for client in (watcher_on_first, watcher_on_second, sender_on_second)))


async def test_users_of_a_crashed_process_go_offline_once_its_heartbeat_expires(two_servers, redis_url, mongodb_uri):
    first, _ = two_servers
    doomed = redis_server(redis_url, mongodb_uri, first.database).start()
    try:
        sender, watcher = await register(first.url), await register(first.url)
        watcher_on_first = await connect(first.url, watcher["accessToken"])
        await call(watcher_on_first, "chat:open", {"userId": sender["user"]["id"]})
        presence = Pushes(watcher_on_first, "presence")
        await call(watcher_on_first, "presence:subscribe", {"userIds": [sender["user"]["id"]]})
        sender_on_doomed = await connect(doomed.url, sender["accessToken"])
        assert await presence.next("presence") == {"userId": sender["user"]["id"], "online": True}
        doomed.stop(signal.SIGKILL)
        assert await presence.next("presence") == {"userId": sender["user"]["id"], "online": False}
        subscribed = await call(watcher_on_first, "presence:subscribe", {"userIds": [sender["user"]["id"]]})
        assert subscribed["data"]["online"] == {sender["user"]["id"]: False}
        await watcher_on_first.disconnect()
        await sender_on_doomed.disconnect()
    finally:
        doomed.remove()
