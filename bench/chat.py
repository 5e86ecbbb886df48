"""Chat delivery: messages delivered per second and send-to-receive latency, vs a bare broadcast server.

    python -m bench.chat --clients 1000 --room-size 2 --senders 50 --seconds 15
    python -m bench.chat --clients 1000 --room-size 50 --senders 20 --seconds 15

Every client is one user with one socket; users are grouped into rooms of `--room-size`.
In `--senders` rooms one member sends messages back to back (each waits for its ack),
carrying the send time; every member's socket counts each `chat:message` and its
latency. The same generator drives, in one run: the bare python-socketio broadcast
server (`bench/bare_chat_server.py`), this server in one process, and this server in two
processes sharing Redis and one database (a standalone engine process; rooms and senders
on the first, half the other sockets on the second, so those pushes cross Redis).
"""

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
import uuid

import aiohttp

from bench.loadgen import LOAD_FROM_ONE_ADDRESS, Socket, open_socket
from tests.servers import JWT_SECRET, ROOT, ServerProcess

BENCH_ENV = {
    "LOG_LEVEL": "WARNING",
    "ACCESS_TOKEN_TTL_SECONDS": "3600",
    "CHAT_MESSAGES_PER_WINDOW": "1000000",
    "JWT_SECRET": JWT_SECRET,
} | LOAD_FROM_ONE_ADDRESS


class Delivery:
    def __init__(self) -> None:
        self.latencies: list[float] = []

    def heard(self, event: str, data) -> None:
        if event == "chat:message":
            self.latencies.append(time.perf_counter() - float(data["message"]["text"].split()[1]))


async def register(http: aiohttp.ClientSession, base: str, count: int) -> list[dict]:
    gate = asyncio.Semaphore(20)

    async def one(index: int) -> dict:
        async with gate:
            body = {"name": f"Chat {index}", "email": f"chat-{index}-{time.time_ns()}@example.com", "password": "bench-password", "role": "customer"}
            async with http.post(f"{base}/api/auth/register", json=body) as response:
                return (await response.json())["data"]

    return await asyncio.gather(*(one(index) for index in range(count)))


async def measure(args, delivery: Delivery, sockets: list[Socket], rooms: list[str], senders: list[Socket]) -> dict:
    deadline = time.perf_counter() + args.seconds
    sent = 0

    async def sender(socket: Socket, room: str) -> None:
        nonlocal sent
        while time.perf_counter() < deadline:
            sent += 1
            ack = await socket.call("chat:send", {"roomId": room, "text": f"bench {time.perf_counter()}", "clientMsgId": f"b{sent}-{time.time_ns()}"})
            assert ack[0]["ok"], ack

    began = time.perf_counter()
    await asyncio.gather(*(sender(socket, room) for socket, room in zip(senders, rooms, strict=False)))
    await asyncio.sleep(1)
    elapsed = time.perf_counter() - began - 1
    ordered = sorted(delivery.latencies)
    return {
        "clients": len(sockets),
        "roomSize": args.room_size,
        "senders": len(senders),
        "sent/s": round(sent / elapsed),
        "delivered/s": round(len(ordered) / elapsed),
        "p50 ms": round(ordered[len(ordered) // 2] * 1000, 1),
        "p99 ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 1),
    }


async def bare(args) -> dict:
    server = ServerProcess(module="bench.bare_chat_server", ready_path="/socket.io/?EIO=4&transport=polling").start()
    try:
        delivery = Delivery()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            rooms = [f"room-{index // args.room_size}" for index in range(args.clients)]
            sockets = [await open_socket(http, server.url, None, auth={"rooms": [rooms[index]]}) for index in range(args.clients)]
            readers = []
            for socket in sockets:
                socket.on_push = delivery.heard
                readers.append(asyncio.create_task(socket.read_forever()))
            first_of_room = [sockets[index] for index in range(0, args.clients, args.room_size)][: args.senders]
            row = await measure(args, delivery, sockets, [f"room-{i}" for i in range(len(first_of_room))], first_of_room)
            for reader in readers:
                reader.cancel()
        return {"server": "bare python-socketio (1 process)"} | row
    finally:
        server.remove()


@contextlib.contextmanager
def shared_engine():
    """Several web processes need one database outside any of them: a standalone engine process."""
    engine = subprocess.Popen(
        [sys.executable, "-m", "server.infra.embedded_mongo"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        yield f"mongodb://127.0.0.1:{int(engine.stdout.readline())}/?directConnection=true"
    finally:
        engine.stdin.close()
        engine.wait(10)


async def ours(args, processes: int, redis_url: str | None) -> dict:
    with contextlib.ExitStack() as stack:
        env = BENCH_ENV | ({"REDIS_URL": redis_url} if redis_url else {})
        if processes > 1:
            env |= {"MONGODB_URI": stack.enter_context(shared_engine())}
        return await _ours(args, processes, redis_url, env)


async def _ours(args, processes: int, redis_url: str | None, env: dict[str, str]) -> dict:
    database = f"bench_{uuid.uuid4().hex[:8]}"
    servers = [ServerProcess(env=env, database=database).start() for _ in range(processes)]
    try:
        delivery = Delivery()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            accounts = await register(http, servers[0].url, args.clients)
            sockets: list[Socket] = []
            for index, account in enumerate(accounts):
                target = servers[index % processes] if index % args.room_size else servers[0]
                sockets.append(await open_socket(http, target.url, account["accessToken"]))
            readers = [asyncio.create_task(socket.read_forever()) for socket in sockets]
            rooms, senders = [], []
            for start in range(0, args.clients, args.room_size):
                creator = sockets[start]
                members = [account["user"]["id"] for account in accounts[start + 1 : start + args.room_size]]
                if args.room_size == 2:
                    answer = await creator.call("chat:open", {"userId": members[0]})
                else:
                    answer = await creator.call("chat:create", {"name": f"Room {start}", "memberIds": members})
                rooms.append(answer[0]["data"]["room"]["id"])
                senders.append(creator)
            for socket in sockets:
                socket.on_push = delivery.heard
            row = await measure(args, delivery, sockets, rooms[: args.senders], senders[: args.senders])
            for reader in readers:
                reader.cancel()
        return {"server": f"this server ({processes} process{'es' if processes > 1 else ''}{', Redis' if redis_url else ''})"} | row
    finally:
        for server in servers:
            server.remove()


async def main(args) -> None:
    rows = [await bare(args), await ours(args, 1, None), await ours(args, 2, args.redis_url)]
    for row in rows[1:]:
        row["vs bare"] = f"{row['delivered/s'] / rows[0]['delivered/s']:.0%}"
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--room-size", type=int, default=2)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    asyncio.run(main(parser.parse_args()))
