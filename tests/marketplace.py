"""Steps the marketplace tests share: a funded customer's task, an application, an offer."""

import asyncio

import aiohttp
import socketio

from tests.money import Pushes, deposit, error_code, ok, user_socket

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


async def funded_customer(base: str, cents: int) -> tuple[dict, socketio.AsyncClient]:
    session, client = await user_socket(base, "customer")
    await deposit(base, client, session["user"]["id"], cents)
    return session, client


async def task_with_application(base: str, customer: socketio.AsyncClient, **task_fields) -> tuple[dict, dict, socketio.AsyncClient]:
    """`(task, application, contractor socket)`: a fresh task and one contractor's application to it."""
    task = (
        await ok(
            customer,
            "task:create",
            {"title": "Fix the fence", "description": "Two panels are loose.", "budget": 10_000, "tags": ["garden"]} | task_fields,
        )
    )["task"]
    contractor_session, contractor = await user_socket(base, "contractor")
    application = (await ok(contractor, "task:apply", {"taskId": task["id"], "message": "I can do it tomorrow."}))["application"]
    return task, application | {"contractorToken": contractor_session["accessToken"]}, contractor


async def send_offer(customer: socketio.AsyncClient, application: dict, amount: int = 10_000) -> dict:
    return (
        await ok(customer, "offer:send", {"applicationId": application["id"], "amount": amount, "timeline": "2 days", "description": "All of it"})
    )["offer"]


async def unanswered_offer_expires(base: str, push_timeout: float = 10) -> None:
    """The scenario both job runners must pass: both sides hear the expiry, the offer can no longer be
    accepted, the hold is released, and the task takes a new offer."""
    _, customer = await funded_customer(base, 15_000)
    task, application, contractor = await task_with_application(base, customer)
    heard = Pushes(customer, "offer:updated"), Pushes(contractor, "offer:updated")
    offer = await send_offer(customer, application)
    for pushes in heard:
        assert (await pushes.next("offer:updated", timeout=push_timeout))["offer"] == offer | {"status": "expired"}
    assert await error_code(contractor, "offer:accept", {"offerId": offer["id"]}) == "invalid_state"
    assert (await ok(customer, "wallet:get"))["held"] == 0
    assert (await ok(customer, "task:get", {"taskId": task["id"]}))["task"]["pendingOfferId"] is None
    assert (await send_offer(customer, application, amount=1_000))["status"] == "pending"
    await asyncio.gather(customer.disconnect(), contractor.disconnect())


async def upload(base: str, token: str | None, data: bytes, name: str = "photo.png") -> tuple[int, dict]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/files", data=form, headers=headers) as response:
            return response.status, await response.json()


async def download(base: str, token: str, file_id: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/files/{file_id}", headers={"Authorization": f"Bearer {token}"}) as response:
            return response.status, await response.read()
