"""The whole marketplace flow, live, with two socket clients and an admin client.

    python -m examples.walkthrough http://localhost:8080 ADMIN_EMAIL ADMIN_PASSWORD

It registers a customer and a contractor, credits the customer (an admin adjustment here;
a Stripe Checkout deposit in production), then: post a task, apply, send an offer,
accept, start, submit, request completion, approve. It prints each step and every push
the three clients receive.
"""

import asyncio
import sys
import uuid

import aiohttp
import socketio


async def sign_up(http: aiohttp.ClientSession, base: str, role: str) -> dict:
    body = {"name": f"Walkthrough {role}", "email": f"{role}-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse", "role": role}
    async with http.post(f"{base}/api/auth/register", json=body) as response:
        return (await response.json())["data"]


async def sign_in(http: aiohttp.ClientSession, base: str, email: str, password: str) -> dict:
    async with http.post(f"{base}/api/auth/login", json={"email": email, "password": password}) as response:
        return (await response.json())["data"]


async def client(base: str, who: str, token: str) -> socketio.AsyncClient:
    sio = socketio.AsyncClient()
    for name in ("application:received", "offer:received", "offer:updated", "task:updated", "wallet:updated", "admin:queue"):
        sio.on(name, lambda data, name=name: print(f"    [{who} hears {name}]"))
    await sio.connect(base, auth={"token": token}, transports=["websocket"])
    return sio


async def ask(sio: socketio.AsyncClient, who: str, event: str, payload: dict | None = None) -> dict:
    answer = await sio.call(event, payload or {}, timeout=10)
    if not answer["ok"]:
        raise RuntimeError(f"{who} {event}: {answer['error']}")
    print(f"{who:>10} → {event}")
    return answer["data"]


async def main(base: str, admin_email: str, admin_password: str) -> dict:
    async with aiohttp.ClientSession() as http:
        customer_session = await sign_up(http, base, "customer")
        contractor_session = await sign_up(http, base, "contractor")
        admin_session = await sign_in(http, base, admin_email, admin_password)
    customer = await client(base, "customer", customer_session["accessToken"])
    contractor = await client(base, "contractor", contractor_session["accessToken"])
    admin = await client(base, "admin", admin_session["accessToken"])
    try:
        await ask(admin, "admin", "admin:wallet:adjust", {"userId": customer_session["user"]["id"], "amount": 20_000, "reason": "walkthrough credit"})
        task = (
            await ask(
                customer,
                "customer",
                "task:create",
                {"title": "Assemble a bookshelf", "description": "IKEA Billy, tools provided.", "budget": 10_000, "tags": ["furniture"]},
            )
        )["task"]
        found = await ask(contractor, "contractor", "task:list", {"status": "open", "tags": ["furniture"]})
        assert task["id"] in [listed["id"] for listed in found["tasks"]]
        application = (await ask(contractor, "contractor", "task:apply", {"taskId": task["id"], "message": "I can come on Saturday."}))["application"]
        offer = (
            await ask(
                customer,
                "customer",
                "offer:send",
                {"applicationId": application["id"], "amount": 10_000, "timeline": "Saturday", "description": "Assembly and wall mounting"},
            )
        )["offer"]
        print(
            f"           offer: {offer['amount']} + fee {offer['platformFee']} = {offer['totalCharge']} held; "
            f"contractor gets {offer['contractorPayout']}"
        )
        await ask(contractor, "contractor", "offer:accept", {"offerId": offer["id"]})
        await ask(contractor, "contractor", "task:start", {"taskId": task["id"]})
        await ask(contractor, "contractor", "task:submit", {"taskId": task["id"], "note": "Done and mounted."})
        request = (await ask(customer, "customer", "task:complete", {"taskId": task["id"]}))["request"]
        await ask(admin, "admin", "admin:completion:approve", {"requestId": request["id"]})
        wallets = {"customer": await ask(customer, "customer", "wallet:get"), "contractor": await ask(contractor, "contractor", "wallet:get")}
        await asyncio.sleep(0.2)
        print(f"           customer balance {wallets['customer']['balance']}, contractor balance {wallets['contractor']['balance']}")
        return wallets
    finally:
        await asyncio.gather(customer.disconnect(), contractor.disconnect(), admin.disconnect())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
