"""Plans: subscribing through Stripe Checkout, the webhooks that decide the plan, its limits and perks, public profiles."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import socketio

from models.plans import FREE, PRO, PlanPolicy, effective_tier, tier_filter
from tests.billing import PRICES, checkout_completed, deliver, invoice_event, subscribe
from tests.conftest import call, call_many, connect, login, money_server, stripe_event
from tests.marketplace import download, funded_customer, send_offer, upload
from tests.money import Pushes, admin_socket, error_code, eventually, ok, user_socket, verify_payouts

GRACE_SECONDS = 3
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
TASK = {"title": "Fix the fence", "description": "Two panels are loose.", "budget": 10_000}


@pytest.fixture(scope="module")
def plans_server(fake_stripe):
    """The real defaults for free accounts (one listing, one partner), both plans priced, a short past-due grace."""
    process = money_server(
        fake_stripe,
        STRIPE_PRICE_PRO=PRICES["pro"],
        STRIPE_PRICE_ELITE=PRICES["elite"],
        FREE_LISTING_LIMIT="1",
        FREE_PARTNER_LIMIT="1",
        PLAN_GRACE_SECONDS=str(GRACE_SECONDS),
    )
    yield process.start()
    try:
        process.audit_clean()
    finally:
        process.remove()


async def plan_of(client: socketio.AsyncClient) -> dict:
    return await ok(client, "plan:get")


def free_policy(**fields) -> PlanPolicy:
    return PlanPolicy(
        **{"free_listings": 1, "free_partners": 1, "pro_listings": 3, "pro_partners": 3, "grace_seconds": 60, "elite_monthly_boosts": 3} | fields
    )


# --- pure rules


def test_active_and_trialing_grant_the_plan_and_past_due_keeps_it_only_for_the_grace_period():
    policy = free_policy()
    now = datetime(2027, 1, 1, tzinfo=UTC)
    for status in ("active", "trialing"):
        assert effective_tier({"tier": "elite", "status": status}, policy, now) == "elite"
    assert effective_tier({"tier": "pro", "status": "past_due", "pastDueSince": now - timedelta(seconds=59)}, policy, now) == "pro"
    assert effective_tier({"tier": "pro", "status": "past_due", "pastDueSince": now - timedelta(seconds=60)}, policy, now) == FREE
    for status in ("unpaid", "canceled", "incomplete", "incomplete_expired", "paused"):
        assert effective_tier({"tier": "elite", "status": status}, policy, now) == FREE
    assert effective_tier(None, policy, now) == FREE
    assert effective_tier({"tier": None, "status": "active"}, policy, now) == FREE


def test_limits_come_from_settings_and_elite_is_unlimited():
    policy = free_policy(free_listings=0, free_partners=2)
    assert policy.limits("free") == {"listings": 0, "partners": 2}
    assert policy.limits("pro") == {"listings": 3, "partners": 3}
    assert policy.limits("elite") == {"listings": None, "partners": None}
    assert policy.tier_of_price("p_e") is None and not policy.available
    priced = free_policy(price_pro="p_p", price_elite="p_e")
    assert (priced.tier_of_price("p_p"), priced.tier_of_price("p_e"), priced.tier_of_price("other")) == ("pro", "elite", None)


def test_the_admin_plan_filter_names_free_as_everyone_not_granted_a_plan():
    assert tier_filter(PRO, free_policy())["subscription.tier"] == PRO
    assert "$nor" in tier_filter(FREE, free_policy())


# --- subscribing


async def test_subscribing_to_elite_makes_the_plan_elite_with_the_badge_and_three_credits_and_cancelling_brings_back_free(plans_server, fake_stripe):
    base = plans_server.url
    session, client = await user_socket(base, "contractor")
    user_id = session["user"]["id"]
    viewer_session, viewer = await user_socket(base, "customer")
    assert await plan_of(client) == {
        "plan": "free", "status": None, "priceId": None, "currentPeriodEnd": None, "cancelAtPeriodEnd": False,
        "limits": {"listings": 1, "partners": 1}, "usage": {"listings": 0, "partners": 0}, "boostCredits": 0,
    }  # fmt: skip
    assert await error_code(client, "profile:update", {"socialLinks": [{"url": "https://example.com/me"}]}) == "plan_required"

    pushes = Pushes(client, "plan:updated")
    started = await ok(client, "plan:subscribe", {"plan": "elite"})
    assert started["url"].startswith("https://checkout.stripe.test/")
    [customer_call] = fake_stripe.calls_to("/v1/customers", email=session["user"]["email"])
    assert customer_call.idempotency_key == f"customer:{user_id}" and customer_call.params["metadata"] == {"userId": user_id}
    [checkout] = fake_stripe.calls_to("/v1/checkout/sessions", mode="subscription", client_reference_id=user_id)
    assert checkout.params["line_items"]["0"]["price"] == PRICES["elite"]
    assert checkout.params["subscription_data"]["metadata"] == {"userId": user_id}
    assert checkout.params["success_url"].startswith("https://api.example.test/api/plans/success")
    assert (await ok(client, "plan:subscribe", {"plan": "elite"})) == started, "a second tap opens the same Checkout page"

    subscription = fake_stripe.subscribe(started["sessionId"], PRICES["elite"])
    await deliver(base, checkout_completed(started, subscription), stripe_event("customer.subscription.created", subscription))
    await deliver(base, invoice_event("invoice.paid", subscription))
    pushed = await pushes.until("plan:updated", lambda view: view["boostCredits"] == 3)
    assert pushed == await plan_of(client)
    assert pushed["plan"] == "elite" and pushed["status"] == "active" and pushed["priceId"] == PRICES["elite"]
    assert pushed["limits"] == {"listings": None, "partners": None} and pushed["currentPeriodEnd"] is not None
    assert (await ok(client, "notifications:list"))["notifications"][0]["event"] == "plan:updated"

    assert await error_code(client, "plan:subscribe", {"plan": "pro"}) == "already_subscribed"
    portal = await ok(client, "plan:portal", {"returnUrl": "https://app.test/account"})
    assert portal["url"].startswith("https://billing.stripe.test/")
    assert (
        fake_stripe.calls_to("/v1/billing_portal/sessions", customer=subscription["customer"])[-1].params["return_url"] == "https://app.test/account"
    )

    status, resume = await upload(base, session["accessToken"], PDF, "resume.pdf")
    assert status == 201, resume
    links = [{"url": "https://example.com/me", "label": "Site"}, {"url": "http://blog.example.com/"}]
    portfolio = [{"title": "Kitchen", "description": "A full refit", "fileIds": [resume["data"]["fileId"]]}]
    add_ons = {"resumeFileId": resume["data"]["fileId"], "socialLinks": links, "portfolio": portfolio}
    updated = (await ok(client, "profile:update", add_ons))["profile"]
    assert updated["addOns"]["socialLinks"] == [links[0], links[1] | {"label": None}]

    seen = (await ok(viewer, "profile:get", {"userId": user_id}))["profile"]
    assert seen["badges"] == ["verified"] and seen["plan"] == "elite" and seen["addOns"] == updated["addOns"]
    file_id = resume["data"]["fileId"]
    status, body = await download(base, viewer_session["accessToken"], file_id)
    assert (status, body) == (200, PDF), "a file a shown profile refers to is readable by any signed-in user"

    fake_stripe.change_subscription(subscription["id"], status="canceled")
    await deliver(base, stripe_event("customer.subscription.deleted", fake_stripe.subscriptions[subscription["id"]] | {}))
    lapsed = await pushes.until("plan:updated", lambda view: view["plan"] == "free")
    assert lapsed["status"] == "canceled" and lapsed["limits"] == {"listings": 1, "partners": 1}
    seen = (await ok(viewer, "profile:get", {"userId": user_id}))["profile"]
    assert seen["badges"] == [] and seen["addOns"] is None and seen["plan"] == "free"
    assert (await download(base, viewer_session["accessToken"], file_id))[0] == 404, "hidden again with the add-ons"
    assert (await ok(client, "profile:get", {"userId": user_id}))["profile"]["addOns"] is None
    assert await error_code(client, "profile:update", {"socialLinks": []}) == "plan_required"

    again = await subscribe(base, fake_stripe, client, "elite")
    assert (await plan_of(client))["plan"] == "elite" and again["id"] != subscription["id"]
    assert (await ok(viewer, "profile:get", {"userId": user_id}))["profile"]["addOns"] == updated["addOns"], "kept, and back on re-subscribing"
    await asyncio.gather(client.disconnect(), viewer.disconnect())


async def test_events_arriving_out_of_order_or_twice_leave_what_stripe_says_now(plans_server, fake_stripe):
    base = plans_server.url
    _, client = await user_socket(base, "customer")
    subscription = await subscribe(base, fake_stripe, client, "pro")
    created_event = stripe_event("customer.subscription.created", subscription)

    fake_stripe.change_subscription(subscription["id"], price=PRICES["elite"])
    updated_event = stripe_event("customer.subscription.updated", fake_stripe.subscriptions[subscription["id"]] | {})
    first, again = await deliver(base, updated_event, updated_event)
    assert (first["duplicate"], again["duplicate"]) == (False, True)
    assert (await plan_of(client))["plan"] == "elite"
    await deliver(base, created_event)
    assert (await plan_of(client))["plan"] == "elite", "an older event's object is not trusted: the subscription is read from Stripe"

    fake_stripe.change_subscription(subscription["id"], status="canceled")
    await deliver(base, stripe_event("customer.subscription.updated", subscription))
    assert (await plan_of(client))["plan"] == "free"

    replacement = await subscribe(base, fake_stripe, client, "pro")
    assert (await plan_of(client))["plan"] == "pro"
    await deliver(base, stripe_event("customer.subscription.deleted", subscription))
    view = await plan_of(client)
    assert view["plan"] == "pro" and view["status"] == "active", "late news of the ended subscription leaves the new one"
    assert replacement["id"] != subscription["id"]
    await client.disconnect()


async def test_past_due_keeps_the_plan_for_the_grace_period_then_the_user_is_told_they_are_free(plans_server, fake_stripe):
    base = plans_server.url
    _, client = await user_socket(base, "customer")
    subscription = await subscribe(base, fake_stripe, client, "pro")
    pushes = Pushes(client, "plan:updated")
    fake_stripe.change_subscription(subscription["id"], status="past_due")
    await deliver(base, invoice_event("invoice.payment_failed", subscription))
    during = await pushes.next("plan:updated")
    assert (during["plan"], during["status"]) == ("pro", "past_due")
    failed_at = time.monotonic()
    await deliver(base, stripe_event("customer.subscription.updated", subscription))
    assert (await plan_of(client))["plan"] == "pro", "a second event about the same failure does not restart or end the grace"

    after = await pushes.until("plan:updated", lambda view: view["plan"] == "free", timeout=GRACE_SECONDS + 15)
    assert after["status"] == "past_due" and time.monotonic() - failed_at >= GRACE_SECONDS - 0.5
    await asyncio.sleep(1.5)
    assert pushes.queues["plan:updated"].empty(), "told once, however many events the failure caused"

    fake_stripe.change_subscription(subscription["id"], status="active", new_invoice=True)
    await deliver(base, invoice_event("invoice.paid", fake_stripe.subscriptions[subscription["id"]]))
    assert (await pushes.until("plan:updated", lambda view: view["plan"] == "pro"))["status"] == "active"
    await client.disconnect()


async def test_cancelling_at_period_end_keeps_the_plan_until_stripe_ends_it(plans_server, fake_stripe):
    base = plans_server.url
    _, client = await user_socket(base, "customer")
    subscription = await subscribe(base, fake_stripe, client, "elite")
    fake_stripe.change_subscription(subscription["id"], cancel_at_period_end=True)
    await deliver(base, stripe_event("customer.subscription.updated", subscription))
    view = await plan_of(client)
    assert (view["plan"], view["cancelAtPeriodEnd"], view["boostCredits"]) == ("elite", True, 3)
    fake_stripe.change_subscription(subscription["id"], status="canceled")
    await deliver(base, stripe_event("customer.subscription.deleted", subscription))
    assert (await plan_of(client))["plan"] == "free"
    await client.disconnect()


async def test_elite_credits_are_granted_per_paid_period_replace_what_is_left_and_expire_at_its_end(plans_server, fake_stripe):
    base = plans_server.url
    _, client = await user_socket(base, "contractor")
    subscription = await subscribe(base, fake_stripe, client, "elite", period_seconds=4)
    assert (await plan_of(client))["boostCredits"] == 3
    # once per invoice (a replay after a credit was spent) is in tests/test_growth.py, where credits can be spent

    renewed = fake_stripe.change_subscription(subscription["id"], period_seconds=4, new_invoice=True)
    await deliver(base, invoice_event("invoice.paid", renewed))
    assert (await plan_of(client))["boostCredits"] == 3, "a new period's credits replace the old ones; they do not add up"
    await eventually(lambda: plan_of(client), lambda view: view["boostCredits"] == 0, timeout=15)

    _, pro = await user_socket(base, "contractor")
    await subscribe(base, fake_stripe, pro, "pro")
    assert (await plan_of(pro))["boostCredits"] == 0, "only Elite comes with boosts"
    await asyncio.gather(client.disconnect(), pro.disconnect())


# --- limits


async def test_each_plan_holds_its_number_of_listings_and_a_downgrade_keeps_them_but_refuses_new_ones(plans_server, fake_stripe):
    base = plans_server.url
    _, client = await user_socket(base, "customer")
    first = (await ok(client, "task:create", TASK))["task"]
    answer = await call(client, "task:create", TASK)
    assert answer["error"]["code"] == "plan_limit"
    assert answer["error"]["details"] == {"limit": 1, "used": 1, "plan": "free", "kind": "listings"}
    await ok(client, "task:cancel", {"taskId": first["id"], "reason": "Changed my mind."})
    await ok(client, "task:create", TASK)

    subscription = await subscribe(base, fake_stripe, client, "pro")
    for _ in range(2):
        await ok(client, "task:create", TASK)
    assert (await error_code(client, "task:create", TASK)) == "plan_limit"
    assert (await plan_of(client))["usage"]["listings"] == 3

    fake_stripe.change_subscription(subscription["id"], price=PRICES["elite"])
    await deliver(base, stripe_event("customer.subscription.updated", subscription))
    for _ in range(3):
        await ok(client, "task:create", TASK)
    assert (await plan_of(client))["usage"] == {"listings": 6, "partners": 0}

    fake_stripe.change_subscription(subscription["id"], status="canceled")
    await deliver(base, stripe_event("customer.subscription.deleted", subscription))
    assert (await ok(client, "task:list", {"mine": True}))["pagination"]["total"] >= 6
    answer = await call(client, "task:create", TASK)
    assert answer["error"]["details"] == {"limit": 1, "used": 6, "plan": "free", "kind": "listings"}
    await client.disconnect()


async def test_ten_concurrent_creates_at_a_limit_of_three_make_exactly_three_listings(plans_server, fake_stripe):
    base = plans_server.url
    _, client = await user_socket(base, "customer")
    await subscribe(base, fake_stripe, client, "pro")
    answers = await call_many(client, "task:create", [TASK | {"title": f"Fence {n}"} for n in range(10)])
    assert sum(answer["ok"] for answer in answers) == 3
    assert {answer["error"]["code"] for answer in answers if not answer["ok"]} == {"plan_limit"}
    assert (await plan_of(client))["usage"]["listings"] == 3
    await client.disconnect()


def offer_on(application: dict, amount: int = 5_000) -> dict:
    return {"applicationId": application["id"], "amount": amount, "timeline": "1 day", "description": "All of it"}


async def offer_to(base: str, contractor: socketio.AsyncClient, customer: socketio.AsyncClient) -> dict:
    """A new task of the customer's and the contractor's application to it (the offer is the test's to send)."""
    task = (await ok(customer, "task:create", TASK))["task"]
    return (await ok(contractor, "task:apply", {"taskId": task["id"], "message": "Tomorrow works."}))["application"]


async def test_a_free_contractor_trades_with_one_partner_at_a_time_and_the_limit_names_whose_it_is(plans_server, fake_stripe):
    base = plans_server.url
    contractor_session, contractor = await user_socket(base, "contractor")
    (_, first), (_, second) = await asyncio.gather(funded_customer(base, 30_000), funded_customer(base, 30_000))
    application = await offer_to(base, contractor, first)
    offer = await send_offer(first, application)
    await ok(contractor, "offer:accept", {"offerId": offer["id"]})
    assert (await plan_of(contractor))["usage"]["partners"] == 1

    other = await offer_to(base, contractor, second)
    refused = await call(second, "offer:send", offer_on(other))
    assert refused["error"]["code"] == "plan_limit"
    assert refused["error"]["details"] == {"limit": 1, "used": 1, "plan": "free", "kind": "partners", "userId": contractor_session["user"]["id"]}
    assert (await ok(second, "wallet:get"))["held"] == 0, "a refused offer holds nothing"
    await asyncio.gather(contractor.disconnect(), first.disconnect(), second.disconnect())


async def test_two_racing_accepts_of_a_free_contractor_with_two_customers_make_one_trade(plans_server, fake_stripe):
    base = plans_server.url
    _, contractor = await user_socket(base, "contractor")
    (_, first), (_, second) = await asyncio.gather(funded_customer(base, 30_000), funded_customer(base, 30_000))
    offers = [await send_offer(customer, await offer_to(base, contractor, customer)) for customer in (first, second)]
    answers = await asyncio.gather(*(call(contractor, "offer:accept", {"offerId": offer["id"]}, queued=2) for offer in offers))
    assert sorted(answer["ok"] for answer in answers) == [False, True]
    assert [answer["error"]["code"] for answer in answers if not answer["ok"]] == ["plan_limit"]
    assert (await plan_of(contractor))["usage"]["partners"] == 1
    await asyncio.gather(contractor.disconnect(), first.disconnect(), second.disconnect())


async def test_a_pro_contractor_trades_with_three_an_elite_one_with_more_and_a_partner_again_never_counts_twice(plans_server, fake_stripe):
    base = plans_server.url
    _, contractor = await user_socket(base, "contractor")
    subscription = await subscribe(base, fake_stripe, contractor, "pro")
    customers = [client for _, client in await asyncio.gather(*(funded_customer(base, 40_000) for _ in range(4)))]
    for customer in customers[:3]:
        await ok(contractor, "offer:accept", {"offerId": (await send_offer(customer, await offer_to(base, contractor, customer)))["id"]})
    fourth = await offer_to(base, contractor, customers[3])
    refused = await call(customers[3], "offer:send", offer_on(fourth))
    assert refused["error"]["code"] == "plan_limit"
    assert (refused["error"]["details"]["kind"], refused["error"]["details"]["limit"], refused["error"]["details"]["plan"]) == ("partners", 3, "pro")

    fake_stripe.change_subscription(subscription["id"], price=PRICES["elite"])
    await deliver(base, stripe_event("customer.subscription.updated", subscription))
    await ok(contractor, "offer:accept", {"offerId": (await send_offer(customers[3], fourth))["id"]})
    assert (await plan_of(contractor))["usage"]["partners"] == 4

    fake_stripe.change_subscription(subscription["id"], price=PRICES["pro"])
    await deliver(base, stripe_event("customer.subscription.updated", subscription))
    await subscribe(base, fake_stripe, customers[0], "pro")  # a second listing, for a second trade with the same contractor
    again = await offer_to(base, contractor, customers[0])
    await ok(contractor, "offer:accept", {"offerId": (await send_offer(customers[0], again))["id"]})
    assert (await plan_of(contractor))["usage"]["partners"] == 4, "a second trade with a partner adds none, even over the limit"
    await asyncio.gather(contractor.disconnect(), *(customer.disconnect() for customer in customers))


# --- the rest of the surface


async def test_without_plan_prices_subscribing_answers_plans_unavailable_and_the_rest_works(server):
    _, client = await user_socket(server.url, "customer")
    assert await error_code(client, "plan:subscribe", {"plan": "pro"}) == "plans_unavailable"
    assert await error_code(client, "plan:portal") == "plans_unavailable"
    assert (await plan_of(client))["plan"] == "free"
    await ok(client, "task:create", TASK)
    await client.disconnect()


async def test_the_express_dashboard_link_is_made_on_demand_for_a_contractor_who_finished_onboarding(plans_server, fake_stripe):
    base = plans_server.url
    _, contractor = await user_socket(base, "contractor")
    assert await error_code(contractor, "payouts:dashboard") == "invalid_state"
    account_id = await verify_payouts(base, contractor)
    first, second = await ok(contractor, "payouts:dashboard"), await ok(contractor, "payouts:dashboard")
    assert first["url"].startswith(f"https://connect.stripe.test/express/{account_id}/") and first["url"] != second["url"]
    assert len(fake_stripe.calls_to(f"/v1/accounts/{account_id}/login_links")) == 2
    _, customer = await user_socket(base, "customer")
    assert await error_code(customer, "payouts:dashboard") == "forbidden"
    await asyncio.gather(contractor.disconnect(), customer.disconnect())


async def test_a_public_profile_shows_nothing_private_and_add_ons_accept_only_the_callers_files_and_web_links(plans_server, fake_stripe):
    base = plans_server.url
    session, client = await user_socket(base, "contractor")
    other_session, other = await user_socket(base, "contractor")
    await ok(client, "me:update", {"bio": "Fences and gates", "skills": ["carpentry"]})
    profile = (await ok(other, "profile:get", {"userId": session["user"]["id"]}))["profile"]
    assert set(profile) == {"id", "name", "bio", "skills", "role", "plan", "badges", "identityVerified", "memberSince", "completedTasks", "addOns"}
    assert session["user"]["email"] not in str(profile)
    assert (profile["bio"], profile["skills"], profile["identityVerified"], profile["completedTasks"]) == (
        "Fences and gates",
        ["carpentry"],
        False,
        0,
    )
    assert await error_code(other, "profile:get", {"userId": "0" * 24}) == "not_found"

    await subscribe(base, fake_stripe, client, "elite")
    status, private = await upload(base, other_session["accessToken"], PDF, "theirs.pdf")
    assert status == 201
    assert await error_code(client, "profile:update", {"resumeFileId": private["data"]["fileId"]}) == "not_found"
    for links in ([{"url": "javascript:alert(1)"}], [{"url": "ftp://example.com"}], [{"url": "https://" + "a" * 500 + ".com"}],
                  [{"url": "https://example.com"}] * 11):  # fmt: skip
        assert await error_code(client, "profile:update", {"socialLinks": links}) == "invalid_request", links
    assert await error_code(client, "profile:update", {"portfolio": [{"title": "x"}] * 21}) == "invalid_request"
    _, own_png = await upload(base, session["accessToken"], b"\x89PNG\r\n\x1a\n" + bytes(64), "photo.png")
    assert await error_code(client, "profile:update", {"resumeFileId": own_png["data"]["fileId"]}) == "not_found", "a résumé is a PDF"
    shown = (await ok(client, "profile:update", {"portfolio": [{"title": "Gate", "fileIds": [own_png["data"]["fileId"]]}]}))["profile"]
    assert shown["addOns"]["portfolio"] == [{"title": "Gate", "description": None, "url": None, "fileIds": [own_png["data"]["fileId"]]}]
    assert (await download(base, other_session["accessToken"], own_png["data"]["fileId"]))[0] == 200
    assert (await download(base, session["accessToken"], private["data"]["fileId"]))[0] == 404, "no other file changes visibility"
    assert (await ok(client, "profile:update", {"resumeFileId": None}))["profile"]["addOns"]["resumeFileId"] is None
    await asyncio.gather(client.disconnect(), other.disconnect())


async def test_admins_find_users_by_name_email_and_plan_and_see_one_in_full(plans_server, fake_stripe):
    base = plans_server.url
    admin = await admin_socket(base)
    session, client = await user_socket(base, "customer")
    await subscribe(base, fake_stripe, client, "pro")
    email = session["user"]["email"]
    found = await ok(admin, "admin:users", {"q": email.upper(), "plan": "pro"})
    assert [row["id"] for row in found["users"]] == [session["user"]["id"]] and found["users"][0]["plan"] == "pro"
    assert (await ok(admin, "admin:users", {"q": email, "plan": "free"}))["users"] == []
    detail = await ok(admin, "admin:user:get", {"userId": session["user"]["id"]})
    assert detail["user"]["email"] == email and detail["plan"]["plan"] == "pro" and detail["subscriptionId"].startswith("sub_")
    assert detail["wallet"]["balance"] == 0 and detail["payouts"]["status"] == "not_connected" and detail["frozen"] is False
    assert await error_code(client, "admin:users", {}) == "forbidden"
    await asyncio.gather(admin.disconnect(), client.disconnect())


async def test_reconciliation_heals_missed_subscription_webhooks(fake_stripe):
    process = money_server(fake_stripe, STRIPE_PRICE_PRO=PRICES["pro"], STRIPE_PRICE_ELITE=PRICES["elite"], RECONCILE_SECONDS="3600")
    try:
        process.start()
        session, client = await user_socket(process.url, "contractor")
        started = await ok(client, "plan:subscribe", {"plan": "elite"})
        subscription = fake_stripe.subscribe(started["sessionId"], PRICES["elite"])
        await client.disconnect()
        process.stop()
        healed = process.run_cli("reconcile")
        assert healed.returncode == 1 and f"plan updated (a subscription webhook never came): user {session['user']['id']}" in healed.stdout

        process.start()
        client = await connect_again(process.url, session)
        view = await plan_of(client)
        assert (view["plan"], view["boostCredits"]) == ("elite", 3), "the missed checkout and invoice webhooks, healed"
        await client.disconnect()
        process.stop()
        fake_stripe.change_subscription(subscription["id"], status="canceled")
        assert "plan updated" in process.run_cli("reconcile").stdout
        assert process.run_cli("reconcile").returncode == 0, "a final subscription is not read again"
        process.start()
        client = await connect_again(process.url, session)
        assert (await plan_of(client))["plan"] == "free"
        await client.disconnect()
    finally:
        process.remove()


async def connect_again(base: str, session: dict) -> socketio.AsyncClient:
    return await connect(base, (await login(base, session["user"]["email"], session["password"]))["accessToken"])
