"""What one flooding socket does to another user's writes, with the per-user write budget and without it.

    python -m bench.flood --probes 120 --interval 0.25 --window 200

For each mode (the default budget; the budget lifted) a fresh server starts. A bystander
makes `--probes` sequential `me:update` calls (one per `--interval` at most) with nobody else writing (idle), then
again while a flooder keeps `--window` `me:update` calls in flight without pause (from
half a second before the probes until they end). Reported: the bystander's p50/p99 in
both phases and their ratio (target: flooded p99 under 3x idle p99 with the budget on),
and what the flooder's calls came to.
"""

import argparse
import asyncio
import json
import time

import aiohttp

from bench.loadgen import Result, Socket, open_socket
from tests.servers import ServerProcess

MODES = {
    "default budget (20/s, 300/min)": {},
    "budget lifted": {"WRITES_PER_SECOND": "1000000", "WRITES_PER_MINUTE": "1000000"},
}


async def account(http: aiohttp.ClientSession, base: str, name: str) -> str:
    async with http.post(
        base + "/api/auth/register",
        json={
            "name": name,
            "email": f"{name}-{time.time_ns()}@example.com",
            "password": "bench-password",
            "role": "customer",
        },
    ) as response:
        return (await response.json())["data"]["accessToken"]


async def probe(socket: Socket, count: int, interval: float) -> Result:
    """`count` writes, one every `interval` seconds at most (a person's pace, well inside their own budget)."""
    latencies = []
    began = time.perf_counter()
    for index in range(count):
        started = time.perf_counter()
        ack = await socket.call("me:update", {"bio": f"probe {index}"})
        assert ack[0]["ok"], ack
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    return Result(1, time.perf_counter() - began, latencies)


async def flood(socket: Socket, window: int, stop: asyncio.Event) -> dict[str, int]:
    """`window` lanes, each sending its next `me:update` as soon as the last is answered, until `stop`."""
    outcomes: dict[str, int] = {}

    async def lane(lane_index: int) -> None:
        sent = 0
        while not stop.is_set():
            ack = (await socket.call("me:update", {"bio": f"flood {lane_index}-{sent}"}))[0]
            sent += 1
            outcome = "ok" if ack["ok"] else ack["error"]["code"]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    await asyncio.gather(*(lane(index) for index in range(window)))
    return outcomes


async def measure(mode: str, env: dict[str, str], args) -> dict:
    server = ServerProcess(env={"LOG_LEVEL": "WARNING"} | env).start()
    try:
        async with aiohttp.ClientSession() as http:
            bystander = await open_socket(http, server.url, await account(http, server.url, "bystander"))
            flooder = await open_socket(http, server.url, await account(http, server.url, "flooder"))
            readers = [asyncio.create_task(s.read_forever()) for s in (bystander, flooder)]
            idle = await probe(bystander, args.probes, args.interval)
            stop = asyncio.Event()
            flooding = asyncio.create_task(flood(flooder, args.window, stop))
            await asyncio.sleep(0.5)
            during = await probe(bystander, args.probes, args.interval)
            stop.set()
            started = time.perf_counter()
            outcomes = await flooding
            for reader in readers:
                reader.cancel()
        return {
            "mode": mode,
            "idle p50 ms": round(idle.percentile(0.5), 1),
            "idle p99 ms": round(idle.percentile(0.99), 1),
            "flooded p50 ms": round(during.percentile(0.5), 1),
            "flooded p99 ms": round(during.percentile(0.99), 1),
            "p99 ratio": round(during.percentile(0.99) / idle.percentile(0.99), 2),
            "flooder outcomes": outcomes,
            "flood drained after probes (s)": round(time.perf_counter() - started, 1),
        }
    finally:
        server.remove()


async def main(args) -> None:
    rows = [await measure(mode, env, args) for mode, env in MODES.items()]
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--probes", type=int, default=120)
    parser.add_argument("--interval", type=float, default=0.25)
    asyncio.run(main(parser.parse_args()))
