"""Offers nobody answers expire on time (a job per offer) or, after a restart lost that job, by the sweep."""

import asyncio

import pytest

from tests.conftest import call, connect, money_server
from tests.marketplace import funded_customer, send_offer, task_with_application, unanswered_offer_expires
from tests.money import eventually, ok


@pytest.fixture(scope="module")
def short_offers(fake_stripe):
    process = money_server(fake_stripe, OFFER_TTL_SECONDS="1.5", EXPIRY_SWEEP_SECONDS="3600")
    yield process.start()
    try:
        process.audit_clean()
    finally:
        process.remove()


async def test_an_unanswered_offer_expires_and_releases_its_hold(short_offers):
    await unanswered_offer_expires(short_offers.url)


async def test_the_sweep_expires_offers_whose_job_a_restart_lost(short_offers):
    session, customer = await funded_customer(short_offers.url, 12_000)
    _, application, contractor = await task_with_application(short_offers.url, customer)
    await send_offer(customer, application)
    await asyncio.gather(customer.disconnect(), contractor.disconnect())
    short_offers.stop()
    await asyncio.sleep(2)
    short_offers.start()
    customer = await connect(short_offers.url, session["accessToken"])
    await eventually(lambda: ok(customer, "wallet:get"), lambda wallet: wallet["held"] == 0, timeout=10)
    inbox = await ok(customer, "notifications:list", {"limit": 100})
    assert [item["data"]["offer"]["status"] for item in inbox["notifications"] if item["event"] == "offer:updated"] == ["expired"]
    await customer.disconnect()


async def test_an_accept_racing_the_expiry_has_exactly_one_outcome(short_offers):
    _, customer = await funded_customer(short_offers.url, 40_000)
    outcomes = []
    for delay in (1.2, 1.4, 1.5, 1.6):
        task, application, contractor = await task_with_application(short_offers.url, customer)
        offer = await send_offer(customer, application)
        await asyncio.sleep(delay)
        answer = await call(contractor, "offer:accept", {"offerId": offer["id"]})
        await asyncio.sleep(1)
        status = (await ok(customer, "task:get", {"taskId": task["id"]}))["task"]["status"]
        if answer["ok"]:
            assert status == "assigned"
        else:
            assert answer["error"]["code"] == "invalid_state" and status == "open"
        outcomes.append(answer["ok"])
        await contractor.disconnect()
    wallet = await ok(customer, "wallet:get")
    assert wallet["held"] == 0 and wallet["balance"] == 40_000 - 10_500 * outcomes.count(True)
    await customer.disconnect()
