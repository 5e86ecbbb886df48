"""Money tests that need a server of their own: no Stripe configured, and a concurrency run audited after."""

import asyncio

import aiohttp
import pytest

from tests.conftest import call_many, money_server, send_webhook
from tests.money import admin_socket, error_code, funded_contractor, ok, user_socket
from tests.servers import ServerProcess


@pytest.fixture
def unconfigured_server():
    process = ServerProcess(env={"APP_RETURN_URL": "myapp://wallet"}).start()
    yield process
    process.remove()


async def test_without_stripe_keys_payment_events_answer_payments_unavailable(unconfigured_server):
    base = unconfigured_server.url
    _, customer = await user_socket(base, "customer")
    _, contractor = await user_socket(base, "contractor")
    assert await error_code(customer, "wallet:deposit", {"amount": 1_000}) == "payments_unavailable"
    assert await error_code(contractor, "payouts:onboard", {"refreshUrl": "https://a.test", "returnUrl": "https://a.test"}) == "payments_unavailable"
    assert (await ok(customer, "wallet:get"))["balance"] == 0
    assert (await ok(contractor, "payouts:status"))["status"] == "not_connected"
    status, answer = await send_webhook(base, {"id": "evt_1"})
    assert (status, answer["error"]["code"]) == (503, "payments_unavailable")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/api/checkout/success?session_id=cs_1", allow_redirects=False) as response:
            assert (response.status, response.headers["Location"]) == (302, "myapp://wallet?checkout=success&session_id=cs_1")
    await asyncio.gather(customer.disconnect(), contractor.disconnect())


async def test_200_concurrent_spends_never_overdraw_and_the_audit_is_clean_after(fake_stripe):
    """A race on one wallet, not a rate-limit test: the per-user write budget is lifted so all 200 reach the ledger."""
    process = money_server(fake_stripe, WRITES_PER_SECOND="1000", WRITES_PER_MINUTE="10000")
    try:
        process.start()
        admin = await admin_socket(process.url)
        _, client, _ = await funded_contractor(process.url, admin, 100_000)
        answers = await call_many(client, "wallet:withdraw", [{"amount": 1_000}] * 200)
        assert sum(answer["ok"] for answer in answers) == 100
        assert {answer["error"]["code"] for answer in answers if not answer["ok"]} == {"insufficient_funds"}
        wallet = await ok(client, "wallet:get")
        assert (wallet["balance"], wallet["held"]) == (0, 100_000)
        assert (await ok(admin, "admin:withdrawals", {"status": "pending", "limit": 1}))["pagination"]["total"] == 100
        await asyncio.gather(admin.disconnect(), client.disconnect())
        process.audit_clean()
    finally:
        process.remove()
