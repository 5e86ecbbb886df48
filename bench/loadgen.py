"""A light Socket.IO load generator: raw Engine.IO v4 frames over aiohttp websockets.

It opens many authenticated sockets, then keeps `active` of them doing back-to-back
acknowledged round-trips of one event for a fixed time, and reports events/s and
latency percentiles. Speaking the frames directly keeps the client's cost per event
far below python-socketio's own client, so the server is what gets measured.
"""

import asyncio
import itertools
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

LOAD_FROM_ONE_ADDRESS = {"MAX_PENDING_SESSIONS_PER_IP": "1000000", "WRITES_PER_SECOND": "1000000", "WRITES_PER_MINUTE": "1000000"}
"""Settings for a server this generator loads: every socket comes from one address and a few users,
so the per-address session limit and the per-user write budget (which a real app never meets) are lifted."""


@dataclass
class Socket:
    ws: aiohttp.ClientWebSocketResponse
    acks: dict[int, asyncio.Future] = field(default_factory=dict)
    ids: itertools.count = field(default_factory=itertools.count)
    on_push: Callable[[str, object], None] | None = None

    async def call(self, event: str, payload: dict) -> list:
        ack_id = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        await self.ws.send_str(f"42{ack_id}" + json.dumps([event, payload]))
        return await future

    async def read_forever(self) -> None:
        async for message in self.ws:
            text = message.data
            if text == "2":
                await self.ws.send_str("3")
            elif text.startswith("43"):
                bracket = text.index("[")
                future = self.acks.pop(int(text[2:bracket]), None)
                if future is not None:
                    future.set_result(json.loads(text[bracket:]))
            elif text.startswith("42") and self.on_push is not None:
                event, data = json.loads(text[2:])
                self.on_push(event, data)


async def open_socket(http: aiohttp.ClientSession, base_url: str, token: str | None, auth: dict | None = None) -> Socket:
    ws = await http.ws_connect(base_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket", max_msg_size=0)
    opening = await ws.receive_str()
    assert opening.startswith("0"), opening
    await ws.send_str("40" + json.dumps(auth if auth is not None else ({"token": token} if token else {})))
    while (reply := await ws.receive_str()) == "2":
        await ws.send_str("3")
    if not reply.startswith("40"):
        raise ConnectionError(f"refused: {reply}")
    return Socket(ws)


@dataclass
class Result:
    connections: int
    seconds: float
    latencies: list[float]

    @property
    def events_per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else float("nan")

    def row(self) -> dict:
        return {
            "connections": self.connections,
            "events": len(self.latencies),
            "events_per_s": round(self.events_per_second),
            "p50_ms": round(self.percentile(0.50), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "mean_ms": round(statistics.fmean(self.latencies) * 1000, 2) if self.latencies else None,
        }


class Swarm:
    """Many open sockets; `drive` measures round-trips on some of them."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.sockets: list[Socket] = []
        self.readers: list[asyncio.Task] = []

    async def open(self, tokens: list[str | None], count: int, parallel: int = 100) -> None:
        gate = asyncio.Semaphore(parallel)

        async def one(index: int) -> None:
            async with gate:
                socket = await open_socket(self.http, self.base_url, tokens[index % len(tokens)])
            self.sockets.append(socket)
            self.readers.append(asyncio.create_task(socket.read_forever()))

        await asyncio.gather(*(one(index) for index in range(count)))

    async def drive(self, event: str, payload: dict, *, active: int, seconds: float) -> Result:
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def loop(socket: Socket) -> None:
            while (started := time.perf_counter()) < deadline:
                ack = await socket.call(event, payload)
                assert ack[0]["ok"], ack
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(loop(socket) for socket in self.sockets[:active]))
        return Result(len(self.sockets), time.perf_counter() - began, latencies)

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*(socket.ws.close() for socket in self.sockets), return_exceptions=True)
        await self.http.close()
