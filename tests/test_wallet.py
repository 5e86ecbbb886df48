"""Deposits, webhooks, onboarding, withdrawals and freezing, through real sockets and signed webhooks."""

import asyncio
import json
import time

import aiohttp
import pytest

from tests.conftest import call, send_webhook, sign, stripe_event
from tests.money import (
    Pushes,
    admin_socket,
    error_code,
    funded_contractor,
    ok,
    paid_checkout,
    transfer_retried_until_paid,
    user_socket,
    verify_email,
)


async def test_a_customer_deposits_through_checkout_and_sees_the_credit_live(server, fake_stripe):
    session, client = await user_socket(server.url, "customer")
    user_id = session["user"]["id"]
    pushes = Pushes(client, "wallet:updated", "deposit:updated")
    started = await ok(client, "wallet:deposit", {"amount": 2_500})
    assert started["url"].startswith("https://checkout.stripe.test/")

    [created] = fake_stripe.calls_to("/v1/checkout/sessions", client_reference_id=user_id)
    assert created.idempotency_key == f"deposit:{started['depositId']}"
    assert created.params["mode"] == "payment" and created.params["payment_method_types"] == {"0": "card"}
    assert created.params["metadata"] == {"depositId": started["depositId"], "userId": user_id}
    assert created.params["line_items"]["0"]["price_data"]["unit_amount"] == "2500"
    assert created.params["success_url"].startswith("https://api.example.test/api/checkout/success")
    assert created.params["cancel_url"].startswith("https://api.example.test/api/checkout/cancel")

    status, answer = await send_webhook(server.url, stripe_event("checkout.session.completed", paid_checkout(started, user_id)))
    assert (status, answer["data"]["duplicate"]) == (200, False)
    assert (await pushes.next("wallet:updated"))["balance"] == 2_500
    assert (await pushes.next("deposit:updated"))["deposit"]["status"] == "completed"

    wallet = await ok(client, "wallet:get")
    assert (wallet["balance"], wallet["held"], wallet["currency"], wallet["isFrozen"]) == (2_500, 0, "usd", False)
    [line] = (await ok(client, "wallet:transactions", {"page": 1, "limit": 10}))["transactions"]
    assert (line["type"], line["availableChange"], line["refs"]["checkoutSessionId"]) == ("deposit", 2_500, started["sessionId"])
    await client.disconnect()


async def test_duplicated_and_reordered_webhooks_credit_exactly_once(server):
    session, client = await user_socket(server.url, "customer")
    user_id = session["user"]["id"]
    first = await ok(client, "wallet:deposit", {"amount": 1_000})
    unpaid = stripe_event("checkout.session.completed", paid_checkout(first, user_id, payment_status="unpaid"))
    succeeded = stripe_event("checkout.session.async_payment_succeeded", paid_checkout(first, user_id))
    assert (await send_webhook(server.url, unpaid))[0] == 200
    assert (await ok(client, "wallet:get"))["balance"] == 0
    assert (await send_webhook(server.url, succeeded))[0] == 200
    status, answer = await send_webhook(server.url, succeeded)
    assert (status, answer["data"]["duplicate"]) == (200, True)

    second = await ok(client, "wallet:deposit", {"amount": 700})
    late_completed = stripe_event("checkout.session.completed", paid_checkout(second, user_id))
    early_succeeded = stripe_event("checkout.session.async_payment_succeeded", paid_checkout(second, user_id))
    results = await asyncio.gather(*(send_webhook(server.url, event) for event in [early_succeeded, late_completed, late_completed, early_succeeded]))
    assert [status for status, _ in results] == [200] * 4
    assert unpaid_and_duplicates_left_one_credit_each(await ok(client, "wallet:transactions", {"limit": 100}))
    assert (await ok(client, "wallet:get"))["balance"] == 1_700
    await client.disconnect()


def unpaid_and_duplicates_left_one_credit_each(page: dict) -> bool:
    return sorted(line["availableChange"] for line in page["transactions"]) == [700, 1_000]


async def test_an_async_payment_failure_marks_the_deposit_failed_and_tells_the_user(server):
    session, client = await user_socket(server.url, "customer")
    pushes = Pushes(client, "deposit:updated")
    started = await ok(client, "wallet:deposit", {"amount": 5_000})
    failed = stripe_event("checkout.session.async_payment_failed", paid_checkout(started, session["user"]["id"], payment_status="unpaid"))
    assert (await send_webhook(server.url, failed))[0] == 200
    pushed = (await pushes.next("deposit:updated"))["deposit"]
    assert (pushed["id"], pushed["status"]) == (started["depositId"], "failed")
    late = stripe_event("checkout.session.async_payment_succeeded", paid_checkout(started, session["user"]["id"]))
    assert (await send_webhook(server.url, late))[0] == 200
    assert (await ok(client, "wallet:get"))["balance"] == 0
    await client.disconnect()


async def test_an_expired_checkout_fails_its_deposit(server):
    session, client = await user_socket(server.url, "customer")
    started = await ok(client, "wallet:deposit", {"amount": 800})
    pushes = Pushes(client, "deposit:updated")
    expired = stripe_event("checkout.session.expired", paid_checkout(started, session["user"]["id"], payment_status="unpaid"))
    assert (await send_webhook(server.url, expired))[0] == 200
    assert (await pushes.next("deposit:updated"))["deposit"]["status"] == "failed"
    await client.disconnect()


@pytest.mark.parametrize(
    "kind, subject",
    [
        ("account.updated", {"object": "account", "payouts_enabled": True}),
        ("account.updated", {"id": "acct_x", "object": "account", "requirements": ["not", "an", "object"]}),
        ("checkout.session.completed", {"id": "cs_x", "object": "checkout.session", "payment_status": "paid", "metadata": ["depositId"]}),
    ],
)
async def test_a_signed_event_we_act_on_but_cannot_read_is_acknowledged_and_kept_for_admins(server, kind, subject):
    """Stripe retries anything but a 2xx for days, and a retry cannot fix the object: 200, ignored, and an admin gets an item."""
    event = stripe_event(kind, subject)
    assert await send_webhook(server.url, event) == (200, {"ok": True, "data": {"received": True, "duplicate": False, "ignored": True}})
    assert (await send_webhook(server.url, event))[1]["data"]["duplicate"] is True
    admin = await admin_socket(server.url)
    items = (await ok(admin, "admin:reconciliations", {"status": "open", "limit": 100}))["items"]
    [item] = [item for item in items if item["eventId"] == event["id"]]
    assert (item["kind"], item["eventType"]) == ("unprocessable_event", kind)
    await ok(admin, "admin:reconciliation:resolve", {"itemId": item["id"], "note": "A hand-made test event."})
    await admin.disconnect()


async def test_badly_signed_webhooks_are_refused_and_change_nothing(server):
    session, client = await user_socket(server.url, "customer")
    started = await ok(client, "wallet:deposit", {"amount": 1_200})
    event = stripe_event("checkout.session.completed", paid_checkout(started, session["user"]["id"]))
    payload = json.dumps(event)
    forged = [
        None,
        "garbage",
        sign(payload, secret="whsec_someone_else"),
        sign(payload, timestamp=int(time.time()) - 3_600),
        sign(payload + " "),
    ]
    for signature in forged:
        status, answer = await send_webhook(server.url, event, signature=signature)
        assert (status, answer["error"]["code"]) == (400, "invalid_signature"), signature
    assert (await ok(client, "wallet:get"))["balance"] == 0
    assert (await send_webhook(server.url, event))[0] == 200
    assert (await ok(client, "wallet:get"))["balance"] == 1_200
    await client.disconnect()


@pytest.mark.parametrize("amount", [99, 1_000_001, "500", 100.5, None, -100])
async def test_deposit_amounts_outside_the_limits_are_refused_before_stripe(server, fake_stripe, amount):
    session, client = await user_socket(server.url, "customer")
    answer = await call(client, "wallet:deposit", {"amount": amount})
    assert answer["error"]["code"] == "invalid_request"
    assert answer["error"]["details"]["fields"][0]["field"] == "amount"
    assert fake_stripe.calls_to("/v1/checkout/sessions", client_reference_id=session["user"]["id"]) == []
    await client.disconnect()


async def test_only_the_right_roles_reach_money_events(server):
    _, contractor = await user_socket(server.url, "contractor")
    _, customer = await user_socket(server.url, "customer")
    assert await error_code(contractor, "wallet:deposit", {"amount": 1_000}) == "forbidden"
    assert await error_code(customer, "wallet:withdraw", {"amount": 1_000}) == "forbidden"
    assert await error_code(customer, "payouts:onboard", {"refreshUrl": "https://a.test", "returnUrl": "https://a.test"}) == "forbidden"
    assert await error_code(customer, "admin:withdrawals") == "forbidden"
    assert await error_code(customer, "admin:wallet:freeze", {"userId": "0" * 24, "frozen": True, "reason": "x"}) == "forbidden"
    await asyncio.gather(contractor.disconnect(), customer.disconnect())


async def test_checkout_return_pages_answer_the_browser(server):
    async with aiohttp.ClientSession() as http:
        for outcome in ("success", "cancel"):
            async with http.get(f"{server.url}/api/checkout/{outcome}?session_id=cs_test_1") as response:
                assert response.status == 200 and response.content_type == "text/html"
                assert "return to the app" in await response.text()


async def test_onboarding_moves_through_stripes_statuses(server, fake_stripe):
    session, client = await user_socket(server.url, "contractor")
    pushes = Pushes(client, "payouts:updated")
    assert (await ok(client, "payouts:status"))["status"] == "not_connected"
    links = {"refreshUrl": "https://app.test/refresh", "returnUrl": "https://app.test/done"}
    first = await ok(client, "payouts:onboard", links)
    again = await ok(client, "payouts:onboard", links)
    assert first["accountId"] == again["accountId"] and first["url"] != again["url"]
    assert len(fake_stripe.calls_to("/v1/accounts", email=session["user"]["email"])) == 1
    assert (await ok(client, "payouts:status")) == {
        "accountId": first["accountId"],
        "status": "pending",
        "payoutsEnabled": False,
        "requirementsNeeded": [],
    }

    account = {
        "id": first["accountId"],
        "object": "account",
        "payouts_enabled": False,
        "details_submitted": True,
        "requirements": {"currently_due": ["external_account"], "disabled_reason": "requirements.past_due"},
    }
    older = stripe_event("account.updated", account, created=int(time.time()) - 60)
    assert (await send_webhook(server.url, stripe_event("account.updated", account)))[0] == 200
    assert (await pushes.next("payouts:updated"))["status"] == "restricted"
    assert (await ok(client, "payouts:status"))["requirementsNeeded"] == ["external_account"]

    enabled = account | {"payouts_enabled": True, "requirements": {"currently_due": []}}
    assert (await send_webhook(server.url, stripe_event("account.updated", enabled)))[0] == 200
    assert (await pushes.next("payouts:updated"))["status"] == "verified"
    assert (await send_webhook(server.url, older))[0] == 200
    assert (await ok(client, "payouts:status"))["status"] == "verified"
    assert (await ok(client, "wallet:get"))["payoutsStatus"] == "verified"
    await client.disconnect()


async def test_a_contractor_withdraws_and_an_admin_approval_pays_exactly_once(server, fake_stripe):
    admin = await admin_socket(server.url)
    queue = Pushes(admin, "admin:queue")
    session, client, account_id = await funded_contractor(server.url, admin, 5_000)
    pushes = Pushes(client, "withdrawal:updated", "wallet:updated")
    assert await error_code(client, "wallet:withdraw", {"amount": 999}) == "invalid_request"
    assert await error_code(client, "wallet:withdraw", {"amount": 6_000}) == "insufficient_funds"

    asked = await ok(client, "wallet:withdraw", {"amount": 3_000})
    assert (asked["amount"], asked["status"]) == (3_000, "pending")
    added = await queue.until("admin:queue", lambda change: change["request"]["id"] == asked["requestId"])
    assert (added["kind"], added["action"], added["request"]["status"]) == ("withdrawal", "added", "pending")
    wallet = await ok(client, "wallet:get")
    assert (wallet["balance"], wallet["held"]) == (2_000, 3_000)
    listed = await ok(admin, "admin:withdrawals", {"status": "pending", "limit": 100})
    assert asked["requestId"] in [request["id"] for request in listed["requests"]]

    approved = (await ok(admin, "admin:withdrawal:approve", {"requestId": asked["requestId"]}))["request"]
    assert approved["status"] == "paid" and approved["transferId"].startswith("tr_")
    [transfer] = fake_stripe.calls_to("/v1/transfers", destination=account_id)
    assert transfer.idempotency_key.startswith("payout:") and transfer.params["amount"] == "3000"
    assert transfer.params["transfer_group"] == transfer.idempotency_key
    assert (await pushes.until("withdrawal:updated", lambda data: data["request"]["status"] == "paid"))["request"]["transferId"] == approved[
        "transferId"
    ]
    wallet = await ok(client, "wallet:get")
    assert (wallet["balance"], wallet["held"], wallet["totalWithdrawals"]) == (2_000, 0, 3_000)
    assert await error_code(admin, "admin:withdrawal:approve", {"requestId": asked["requestId"]}) == "invalid_state"
    assert await error_code(admin, "admin:withdrawal:approve", {"requestId": "f" * 24}) == "not_found"
    await asyncio.gather(admin.disconnect(), client.disconnect())


async def test_withdrawing_needs_a_verified_email_and_enabled_payouts(server):
    session, client = await user_socket(server.url, "contractor")
    assert await error_code(client, "wallet:withdraw", {"amount": 1_000}) == "email_not_verified"
    await verify_email(server.url, session["user"]["email"])
    assert await error_code(client, "wallet:withdraw", {"amount": 1_000}) == "payouts_not_enabled"
    await client.disconnect()


async def test_a_rejection_releases_the_hold_with_the_reason(server):
    admin = await admin_socket(server.url)
    _, client, _ = await funded_contractor(server.url, admin, 4_000)
    pushes = Pushes(client, "withdrawal:updated")
    asked = await ok(client, "wallet:withdraw", {"amount": 4_000})
    rejected = (await ok(admin, "admin:withdrawal:reject", {"requestId": asked["requestId"], "reason": "account under review"}))["request"]
    assert (rejected["status"], rejected["reason"]) == ("rejected", "account under review")
    assert (await pushes.next("withdrawal:updated"))["request"]["status"] == "rejected"
    wallet = await ok(client, "wallet:get")
    assert (wallet["balance"], wallet["held"]) == (4_000, 0)
    assert await error_code(admin, "admin:withdrawal:reject", {"requestId": asked["requestId"], "reason": "again"}) == "invalid_state"
    await asyncio.gather(admin.disconnect(), client.disconnect())


async def test_two_admins_approving_at_once_pay_once(server, fake_stripe):
    first_admin, second_admin = await admin_socket(server.url), await admin_socket(server.url)
    _, client, account_id = await funded_contractor(server.url, first_admin, 2_000)
    asked = await ok(client, "wallet:withdraw", {"amount": 2_000})
    answers = await asyncio.gather(
        *(call(admin, "admin:withdrawal:approve", {"requestId": asked["requestId"]}) for admin in (first_admin, second_admin))
    )
    assert sorted(answer["ok"] for answer in answers) == [False, True]
    assert [answer["error"]["code"] for answer in answers if not answer["ok"]] == ["invalid_state"]
    assert len(fake_stripe.calls_to("/v1/transfers", destination=account_id)) == 1
    await asyncio.gather(first_admin.disconnect(), second_admin.disconnect(), client.disconnect())


async def test_a_refused_transfer_reverses_the_withdrawal(server, fake_stripe):
    admin = await admin_socket(server.url)
    _, client, account_id = await funded_contractor(server.url, admin, 3_000)
    pushes = Pushes(client, "withdrawal:updated")
    asked = await ok(client, "wallet:withdraw", {"amount": 2_500})
    fake_stripe.fail_next("/v1/transfers", 400)
    answer = (await ok(admin, "admin:withdrawal:approve", {"requestId": asked["requestId"]}))["request"]
    assert answer["status"] == "failed"
    assert (await pushes.until("withdrawal:updated", lambda data: data["request"]["status"] == "failed"))["request"]["reason"]
    wallet = await ok(client, "wallet:get")
    assert (wallet["balance"], wallet["held"], wallet["totalWithdrawals"]) == (3_000, 0, 0)
    types = [line["type"] for line in (await ok(client, "wallet:transactions"))["transactions"]]
    assert types[:2] == ["withdrawal_reversal", "withdrawal"]
    assert fake_stripe.calls_to("/v1/transfers", destination=account_id)[0].idempotency_key.startswith("payout:")
    await asyncio.gather(admin.disconnect(), client.disconnect())


async def test_a_failing_transfer_is_retried_with_the_same_key_until_it_succeeds(server, fake_stripe):
    await transfer_retried_until_paid(server.url, fake_stripe, 1_500, [500, 503], timeout=15)


async def test_a_frozen_wallet_receives_but_cannot_spend(server):
    admin = await admin_socket(server.url)
    session, client, _ = await funded_contractor(server.url, admin, 2_000)
    user_id = session["user"]["id"]
    pushes = Pushes(client, "wallet:updated")
    frozen = await ok(admin, "admin:wallet:freeze", {"userId": user_id, "frozen": True, "reason": "chargeback review"})
    assert frozen["wallet"]["isFrozen"] is True
    assert (await pushes.until("wallet:updated", lambda wallet: wallet["isFrozen"]))["balance"] == 2_000
    assert await error_code(client, "wallet:withdraw", {"amount": 1_000}) == "wallet_frozen"
    assert (await ok(admin, "admin:wallet:adjust", {"userId": user_id, "amount": 500, "reason": "goodwill"}))["wallet"]["balance"] == 2_500
    await ok(admin, "admin:wallet:freeze", {"userId": user_id, "frozen": False, "reason": "review done"})
    assert (await ok(client, "wallet:withdraw", {"amount": 1_000}))["status"] == "pending"
    assert await error_code(admin, "admin:wallet:freeze", {"userId": "f" * 24, "frozen": True, "reason": "x"}) == "not_found"
    await asyncio.gather(admin.disconnect(), client.disconnect())


async def test_transaction_history_pages_and_shows_only_the_callers_own(server):
    admin = await admin_socket(server.url)
    session, client, _ = await funded_contractor(server.url, admin, 100)
    _, other, _ = await funded_contractor(server.url, admin, 999)
    for cents in (200, 300, 400):
        await ok(admin, "admin:wallet:adjust", {"userId": session["user"]["id"], "amount": cents, "reason": "test"})
    page = await ok(client, "wallet:transactions", {"page": 2, "limit": 3})
    assert page["pagination"] == {"page": 2, "limit": 3, "total": 4, "pages": 2}
    assert [line["availableChange"] for line in page["transactions"]] == [100]
    newest = await ok(client, "wallet:transactions", {"limit": 1})
    assert newest["transactions"][0]["availableChange"] == 400
    assert await error_code(client, "wallet:transactions", {"limit": 101}) == "invalid_request"
    assert [line["availableChange"] for line in (await ok(other, "wallet:transactions"))["transactions"]] == [999]
    await asyncio.gather(admin.disconnect(), client.disconnect(), other.disconnect())
