"""Timed jobs through real RQ processes (`python -m server worker` and `cron`): payouts and offer expiry.

RQ workers need a database shared with the server, so this module runs the server in
`MONGODB_URI` mode against a standalone engine process that outlives a killed server.
"""

import asyncio
import signal
import uuid

import pytest
from pymongo import MongoClient

from tests.conftest import connect, money_server
from tests.marketplace import unanswered_offer_expires
from tests.money import admin_socket, eventually, funded_contractor, ok, transfer_retried_until_paid
from tests.servers import ServerProcess


@pytest.fixture(scope="module")
def deployment(mongodb_uri, redis_url, fake_stripe):
    """A web process, an RQ worker and the RQ cron process, as the Procfile runs them."""
    server = money_server(
        fake_stripe,
        MONGODB_URI=mongodb_uri,
        REDIS_URL=redis_url,
        RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}",
        PAYOUT_RESUME_SECONDS="1",
        OFFER_TTL_SECONDS="2",
    )
    server.start()
    helpers = [server.spawn("worker", log_name="worker.log"), server.spawn("cron", log_name="cron.log")]
    yield server
    for helper in helpers:
        helper.send_signal(signal.SIGTERM)
        helper.wait(30)
    try:
        server.audit_clean()
    finally:
        server.remove()


async def test_an_rq_worker_retries_a_failing_transfer_with_the_same_key(deployment, fake_stripe):
    await transfer_retried_until_paid(deployment.url, fake_stripe, 2_000, [500, 500], timeout=30)


async def test_a_crash_between_approval_and_stripes_answer_is_healed_by_the_resume_job(deployment, fake_stripe):
    admin = await admin_socket(deployment.url)
    session, client, account_id = await funded_contractor(deployment.url, admin, 4_000)
    asked = await ok(client, "wallet:withdraw", {"amount": 4_000})
    answer_held = fake_stripe.hold_next("/v1/transfers")
    approval = asyncio.ensure_future(admin.call("admin:withdrawal:approve", {"requestId": asked["requestId"]}, timeout=30))
    await eventually(lambda: fake_stripe.calls_to("/v1/transfers", destination=account_id), bool, timeout=15)
    deployment.stop(signal.SIGKILL)
    answer_held.set()
    approval.cancel()
    await asyncio.gather(admin.disconnect(), client.disconnect(), return_exceptions=True)

    deployment.start()
    admin = await admin_socket(deployment.url)
    await eventually(lambda: request_status(admin, asked["requestId"]), lambda status: status == "paid")
    attempts = fake_stripe.calls_to("/v1/transfers", destination=account_id)
    assert len(attempts) == 2 and len({call.idempotency_key for call in attempts}) == 1
    assert len([t for t in fake_stripe.transfers.values() if t["destination"] == account_id]) == 1
    client = await connect(deployment.url, session["accessToken"])
    wallet = await ok(client, "wallet:get")
    assert (wallet["balance"], wallet["held"], wallet["totalWithdrawals"]) == (0, 0, 4_000)
    audit = deployment.run_cli("audit-ledger")
    assert audit.returncode == 0 and "CLEAN" in audit.stdout, audit.stdout + audit.stderr
    await asyncio.gather(admin.disconnect(), client.disconnect())


async def test_an_rq_worker_expires_an_unanswered_offer_and_both_sides_hear_it(deployment):
    await unanswered_offer_expires(deployment.url, push_timeout=20)


async def request_status(admin, request_id: str) -> str:
    listed = await ok(admin, "admin:withdrawals", {"limit": 100})
    return next(request["status"] for request in listed["requests"] if request["id"] == request_id)


def test_the_audit_command_catches_a_tampered_balance(mongodb_uri):
    books = ServerProcess(env={"MONGODB_URI": mongodb_uri})
    try:
        assert books.run_cli("audit-ledger").returncode == 0
        with MongoClient(mongodb_uri) as client:
            client[books.database]["ledger_accounts"].update_one({"_id": "platform:escrow"}, {"$inc": {"balance": 1}})
        audit = books.run_cli("audit-ledger")
        assert audit.returncode == 1 and "stored balance differs" in audit.stdout and "platform:escrow" in audit.stdout, audit.stdout
    finally:
        books.remove()
