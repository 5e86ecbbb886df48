"""Steps the money tests share: a funded customer, a verified contractor, an admin socket, pushes."""

import asyncio
import inspect
import re
import time
from urllib.parse import unquote

import socketio

from tests.conftest import ADMIN, call, connect, login, post, register, send_webhook, stripe_event
from tests.servers import RUNNING


class Pushes:
    """Every push of the named events a client receives, in order, awaitable one at a time."""

    def __init__(self, client: socketio.AsyncClient, *events: str) -> None:
        self.queues = {name: asyncio.Queue() for name in events}
        for name, queue in self.queues.items():
            client.on(name, queue.put_nowait)

    async def next(self, event: str, timeout: float = 10) -> dict:
        return await asyncio.wait_for(self.queues[event].get(), timeout)

    async def until(self, event: str, accept, timeout: float = 15) -> dict:
        """The first push of `event` that `accept` likes, skipping earlier ones."""
        async with asyncio.timeout(timeout):
            while not accept(data := await self.queues[event].get()):
                pass
        return data


async def ok(client: socketio.AsyncClient, event: str, data=None) -> dict:
    answer = await call(client, event, data)
    assert answer["ok"], answer
    return answer["data"]


async def error_code(client: socketio.AsyncClient, event: str, data=None) -> str:
    answer = await call(client, event, data)
    assert not answer["ok"], answer
    return answer["error"]["code"]


async def user_socket(base: str, role: str) -> tuple[dict, socketio.AsyncClient]:
    session = await register(base, role)
    return session, await connect(base, session["accessToken"])


async def admin_socket(base: str) -> socketio.AsyncClient:
    return await connect(base, (await login(base, ADMIN["email"], ADMIN["password"]))["accessToken"])


def paid_checkout(deposit: dict, user_id: str, payment_status: str = "paid") -> dict:
    return {
        "id": deposit["sessionId"],
        "object": "checkout.session",
        "payment_status": payment_status,
        "client_reference_id": user_id,
        "metadata": {"depositId": deposit["depositId"], "userId": user_id},
        "payment_intent": "pi_test_1",
        "amount_total": None,
    }


async def deposit(base: str, client: socketio.AsyncClient, user_id: str, cents: int) -> dict:
    """Start a Checkout deposit and confirm it with a signed `checkout.session.completed`."""
    started = await ok(client, "wallet:deposit", {"amount": cents})
    status, _ = await send_webhook(base, stripe_event("checkout.session.completed", paid_checkout(started, user_id)))
    assert status == 200
    return started


def mailed_token(base: str, to: str, *, after: int = 0) -> str | None:
    """The token in the newest email to `to` from the server at `base` (its outbox), among those after the first `after`."""
    mails = RUNNING[base].outbox(to)[after:]
    if not mails:
        return None
    found = re.search(r"token=([A-Za-z0-9_\-%]+)|\n\n([A-Za-z0-9_\-]{40,})\n\n", mails[-1].get_content())
    return unquote(found.group(1) or found.group(2)) if found else None


async def verify_email(base: str, email: str) -> dict:
    """Open the link of the verification email the server sent at registration (its outbox)."""
    token = await eventually(lambda: mailed_token(base, email), bool)
    status, answer = await post(base, "/api/auth/verify-email", {"token": token})
    assert status == 200, answer
    return answer["data"]["user"]


async def verify_payouts(base: str, client: socketio.AsyncClient) -> str:
    """Verify the email, onboard, then let Stripe report the account as fully enabled: what a withdrawal needs."""
    await verify_email(base, (await ok(client, "me:get"))["user"]["email"])
    account_id = (await ok(client, "payouts:onboard", {"refreshUrl": "https://app.test/refresh", "returnUrl": "https://app.test/done"}))["accountId"]
    enabled = {"id": account_id, "object": "account", "payouts_enabled": True, "details_submitted": True, "requirements": {"currently_due": []}}
    status, answer = await send_webhook(base, stripe_event("account.updated", enabled))
    assert status == 200, answer
    return account_id


async def funded_contractor(base: str, admin: socketio.AsyncClient, cents: int) -> tuple[dict, socketio.AsyncClient, str]:
    session, client = await user_socket(base, "contractor")
    account_id = await verify_payouts(base, client)
    await ok(admin, "admin:wallet:adjust", {"userId": session["user"]["id"], "amount": cents, "reason": "test funds"})
    return session, client, account_id


async def eventually(probe, accept, timeout: float = 20):
    """Poll `probe` (plain or async) until `accept` likes its value; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if accept(value):
            return value
        assert time.monotonic() < deadline, f"still {value!r}"
        await asyncio.sleep(0.1)


async def transfer_retried_until_paid(base: str, fake_stripe, cents: int, failures: list[int], *, timeout: float) -> None:
    """An approval whose transfer fails with `failures` first: retried with one key, one transfer, paid in the end."""
    admin = await admin_socket(base)
    _, client, account_id = await funded_contractor(base, admin, cents)
    pushes = Pushes(client, "withdrawal:updated")
    asked = await ok(client, "wallet:withdraw", {"amount": cents})
    fake_stripe.fail_next("/v1/transfers", *failures)
    answer = (await ok(admin, "admin:withdrawal:approve", {"requestId": asked["requestId"]}))["request"]
    assert answer["status"] == "approved"
    paid = await pushes.until("withdrawal:updated", lambda data: data["request"]["status"] == "paid", timeout=timeout)
    attempts = fake_stripe.calls_to("/v1/transfers", destination=account_id)
    assert len(attempts) == len(failures) + 1 and len({call.idempotency_key for call in attempts}) == 1
    assert [t["id"] for t in fake_stripe.transfers.values() if t["destination"] == account_id] == [paid["request"]["transferId"]]
    await asyncio.gather(admin.disconnect(), client.disconnect())
