"""Stripe Billing steps the plan and growth tests share: a subscription bought through Checkout, and the webhooks after."""

import socketio

from tests.conftest import send_webhook, stripe_event
from tests.money import ok

PRICES = {"pro": "price_pro_test", "elite": "price_elite_test"}
PLAN_ENV = {"STRIPE_PRICE_PRO": PRICES["pro"], "STRIPE_PRICE_ELITE": PRICES["elite"]}


def checkout_completed(started: dict, subscription: dict) -> dict:
    subject = {
        "id": started["sessionId"], "object": "checkout.session", "mode": "subscription", "payment_status": "paid",
        "subscription": subscription["id"], "customer": subscription["customer"], "metadata": subscription["metadata"],
    }  # fmt: skip
    return stripe_event("checkout.session.completed", subject)


def invoice_event(kind: str, subscription: dict) -> dict:
    subject = {"id": subscription["latest_invoice"], "object": "invoice", "parent": {"subscription_details": {"subscription": subscription["id"]}}}
    return stripe_event(kind, subject)


async def deliver(base: str, *events: dict) -> list[dict]:
    answers = []
    for event in events:
        status, answer = await send_webhook(base, event)
        assert status == 200, answer
        answers.append(answer["data"])
    return answers


async def subscribe(base: str, fake_stripe, client: socketio.AsyncClient, plan: str, **subscription) -> dict:
    """Checkout, payment, and the three webhooks Stripe sends for a new subscription; the subscription as Stripe has it."""
    started = await ok(client, "plan:subscribe", {"plan": plan})
    created = fake_stripe.subscribe(started["sessionId"], PRICES[plan], **subscription)
    await deliver(
        base, checkout_completed(started, created), stripe_event("customer.subscription.created", created), invoice_event("invoice.paid", created)
    )
    return created
