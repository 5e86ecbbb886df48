"""Pro and Elite: subscribing through Stripe Checkout, the billing portal, and what the caller's plan allows now."""

from typing import Literal

from bson import ObjectId
from pydantic import BaseModel, Field, HttpUrl

from models import plans, roles, tasks, users
from models.errors import AppError
from server.gateway.dispatch import EventContext
from server.gateway.events import NoPayload, Payload, event
from server.gateway.shapes import PlanView
from server.infra.stripe_api import answered_as_unavailable


class SubscribePayload(Payload):
    plan: Literal[plans.PRO, plans.ELITE]


class PlanCheckout(BaseModel):
    url: str = Field(description="Stripe Checkout (subscription mode): open it to pay by card")
    sessionId: str


class PortalPayload(Payload):
    returnUrl: HttpUrl | None = Field(default=None, description="where the portal's back link goes; default `APP_RETURN_URL`, else `PUBLIC_URL`")


class PortalLink(BaseModel):
    url: str = Field(description="Stripe's customer portal: change plan, cancel, update the card")


@event("plan:get", result=PlanView, who=roles.TRADERS, budget=None)
async def get_plan(ctx: EventContext, payload: NoPayload) -> dict:
    """Your plan now, its limits and what you use of them (`null` limits are unlimited), and Elite boost credits left."""
    db = ctx.services.db
    return plans.view(await users.get(db, ctx.user_id), ctx.services.settings.plans, await tasks.usage(db, ObjectId(ctx.user_id)))


@event("plan:subscribe", payload=SubscribePayload, result=PlanCheckout, who=roles.TRADERS)
async def subscribe(ctx: EventContext, payload: SubscribePayload) -> dict:
    """Open a Checkout page for the plan; `plan:updated` follows once Stripe confirms. Already subscribed: use `plan:portal`.
    Asking again for the same plan within 23 hours returns the same page."""
    services = ctx.services
    api = services.billing()
    user = await users.get(services.db, ctx.user_id)
    if plans.is_subscribed(user.get("subscription")):
        status = user["subscription"]["status"]
        raise AppError("already_subscribed", "Change or cancel your subscription in the billing portal (plan:portal).", {"status": status})
    if reused := plans.checkout_to_reuse(user, payload.plan):
        return reused
    base = services.settings.public_url.rstrip("/")
    with answered_as_unavailable():
        customer_id = user.get("stripeCustomerId")
        if customer_id is None:
            customer_id = await api.customer(user_id=ctx.user_id, email=user["email"], name=user["name"])
            await plans.remember_customer(services.db, user["_id"], customer_id)
        checkout = await api.subscription_checkout(
            user_id=ctx.user_id,
            customer_id=customer_id,
            price_id=services.settings.plans.price_of(payload.plan),
            success_url=f"{base}/api/plans/success?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{base}/api/plans/cancel?session_id={{CHECKOUT_SESSION_ID}}",
        )
    await plans.remember_checkout(services.db, user["_id"], payload.plan, checkout.id, checkout.url)
    return {"url": checkout.url, "sessionId": checkout.id}


@event("plan:portal", payload=PortalPayload, result=PortalLink, who=roles.TRADERS)
async def portal(ctx: EventContext, payload: PortalPayload) -> dict:
    """A Stripe billing-portal session: upgrade, downgrade, cancel, card. `invalid_state` before a first `plan:subscribe`."""
    services = ctx.services
    api = services.billing()
    user = await users.get(services.db, ctx.user_id)
    if not user.get("stripeCustomerId"):
        raise AppError("invalid_state", "Subscribe first (plan:subscribe); the portal manages an existing subscription.")
    return_url = str(payload.returnUrl) if payload.returnUrl else services.settings.app_return_url or services.settings.public_url
    with answered_as_unavailable():
        return {"url": await api.billing_portal(customer_id=user["stripeCustomerId"], return_url=return_url)}
