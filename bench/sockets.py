"""Socket throughput and memory: this server vs a bare python-socketio server, same run.

    python -m bench.sockets --connections 5000 --active 200 --seconds 15

Each server runs in its own process (the generator in this one). For each: open
`--connections` sockets (authenticated on ours), read the server's RSS before and after,
then drive `sys:ping` round-trips on `--active` sockets for `--seconds`; on ours also
`me:get`, which reads MongoDB (the embedded engine in a third process).
"""

import argparse
import asyncio
import json

import requests

from bench.loadgen import LOAD_FROM_ONE_ADDRESS, Swarm
from tests.servers import ServerProcess

USERS = 50


def register_users(base_url: str) -> list[str]:
    tokens = []
    for index in range(USERS):
        answer = requests.post(
            base_url + "/api/auth/register",
            json={
                "name": f"Bench {index}",
                "email": f"bench-{index}@example.com",
                "password": "bench-password",
                "role": "customer",
            },
            timeout=10,
        ).json()
        tokens.append(answer["data"]["accessToken"])
    return tokens


async def measure(server: ServerProcess, tokens: list[str | None], events: list[str], args) -> list[dict]:
    swarm = Swarm(server.url)
    before = server.rss_bytes()
    await swarm.open(tokens, args.connections)
    await asyncio.sleep(1)
    per_socket = (server.rss_bytes() - before) / args.connections
    rows = []
    try:
        for event in events:
            await swarm.drive(event, {}, active=args.active, seconds=2)
            result = await swarm.drive(event, {}, active=args.active, seconds=args.seconds)
            rows.append(
                {
                    "event": event,
                    **result.row(),
                    "rss_kib_per_socket": round(per_socket / 1024, 1),
                    "rss_mib_total": round(server.rss_bytes() / 2**20),
                }
            )
    finally:
        await swarm.close()
    return rows


async def main(args) -> None:
    rows = []
    bare = ServerProcess(module="bench.bare_server", ready_path="/socket.io/?EIO=4&transport=polling").start()
    try:
        rows += [{"server": "bare python-socketio"} | row for row in await measure(bare, [None], ["sys:ping"], args)]
    finally:
        bare.remove()
    ours = ServerProcess(env={"LOG_LEVEL": args.log_level, "ACCESS_TOKEN_TTL_SECONDS": "3600"} | LOAD_FROM_ONE_ADDRESS).start()
    try:
        tokens = register_users(ours.url)
        rows += [{"server": f"this server (LOG_LEVEL={args.log_level})"} | row for row in await measure(ours, tokens, ["sys:ping", "me:get"], args)]
    finally:
        ours.remove()
    print(json.dumps(rows, indent=1))
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[column]) for column in columns) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--active", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--log-level", default="INFO")
    asyncio.run(main(parser.parse_args()))
