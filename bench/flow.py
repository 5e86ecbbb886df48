"""The whole task flow per pair of users, many pairs at once, with each step timed.

    python -m bench.flow --pairs 20 --seconds 30

A flow is create → apply → offer → accept → submit → complete → approve (the task has
`autoStart`, so accepting starts it). Each pair is a funded customer and a contractor;
one admin approves for everybody. Reports flows per second, p50/p99 per step, and the
audit of the server's books afterwards.
"""

import argparse
import asyncio
import json
import time
from collections import defaultdict

from bench.money_server import audit, bench_server
from tests.conftest import call
from tests.marketplace import funded_customer
from tests.money import user_socket

STEPS = ("task:create", "task:apply", "offer:send", "offer:accept", "task:submit", "task:complete", "admin:completion:approve")


async def flow(customer, contractor, admin, timings: dict[str, list[float]]) -> None:
    async def step(name: str, client, payload: dict) -> dict:
        started = time.perf_counter()
        answer = await call(client, name, payload)
        timings[name].append(time.perf_counter() - started)
        assert answer["ok"], (name, answer)
        return answer["data"]

    task = (await step("task:create", customer, {"title": "Bench task", "description": "Measured.", "budget": 1_000, "autoStart": True}))["task"]
    application = (await step("task:apply", contractor, {"taskId": task["id"], "message": "On it."}))["application"]
    offer = (await step("offer:send", customer, {"applicationId": application["id"], "amount": 1_000, "timeline": "1 day", "description": "All"}))[
        "offer"
    ]
    await step("offer:accept", contractor, {"offerId": offer["id"]})
    await step("task:submit", contractor, {"taskId": task["id"], "note": "Done."})
    request = (await step("task:complete", customer, {"taskId": task["id"]}))["request"]
    await step("admin:completion:approve", admin, {"requestId": request["id"]})


async def main(args) -> None:
    async with bench_server(args.log_level) as (server, admin):
        pairs = [((await funded_customer(server.url, 1_000_000))[1], (await user_socket(server.url, "contractor"))[1]) for _ in range(args.pairs)]
        timings: dict[str, list[float]] = defaultdict(list)
        flows = 0
        started_at = time.monotonic()

        async def run(customer, contractor) -> None:
            nonlocal flows
            while time.monotonic() < started_at + args.seconds:
                await flow(customer, contractor, admin, timings)
                flows += 1

        await asyncio.gather(*(run(*pair) for pair in pairs))
        elapsed = time.monotonic() - started_at
        await asyncio.gather(admin.disconnect(), *(client.disconnect() for pair in pairs for client in pair))
        audited = audit(server)
    report = {
        "pairs": args.pairs,
        "seconds": round(elapsed, 1),
        "flows": flows,
        "flows/s": round(flows / elapsed, 2),
        "audit": audited,
        "steps": {name: _percentiles(timings[name]) for name in STEPS},
    }
    print(json.dumps(report, indent=1))


def _percentiles(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {"p50 ms": round(ordered[len(ordered) // 2] * 1000, 1), "p99 ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--log-level", default="INFO")
    asyncio.run(main(parser.parse_args()))
