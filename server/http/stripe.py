"""Stripe's HTTP side: the webhook endpoint and the pages Checkout sends the browser back to."""

import html
import logging
from typing import Any
from urllib.parse import urlencode

import orjson
import stripe
from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from models import clock, plans, stripe_events
from models.errors import AppError, ok
from server.infra.stripe_api import answered_as_unavailable
from server.pushes import money
from workers import plans as plan_jobs

log = logging.getLogger("server.stripe")
routes = web.RouteTableDef()


class EventData(BaseModel):
    object: dict[str, Any]


class StripeEvent(BaseModel):
    """Only the envelope is checked; each handled type reads what it needs from `data.object`."""

    model_config = ConfigDict(extra="allow")
    id: str
    type: str
    created: int
    data: EventData


@routes.post("/api/webhooks/stripe")
async def stripe_webhook(request: web.Request) -> web.Response:
    """200 once the event is applied (or was before); any failure is a 5xx, so Stripe retries."""
    services = request.app["services"]
    settings = services.settings
    if not settings.stripe_webhook_secret:
        raise AppError("payments_unavailable", "Stripe webhooks are not configured on this server.")
    payload = await request.read()
    try:
        stripe.WebhookSignature.verify_header(
            payload,
            request.headers.get("Stripe-Signature"),
            settings.stripe_webhook_secret,
            settings.stripe_webhook_tolerance_seconds,
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise AppError("invalid_signature", "The Stripe-Signature header does not match this payload.") from None
    try:
        event = StripeEvent.model_validate(orjson.loads(payload)).model_dump()
    except (orjson.JSONDecodeError, ValidationError) as error:
        log.warning("stripe event ignored: not an event we can read", extra={"error": type(error).__name__})
        return web.json_response(ok({"received": True, "duplicate": False, "ignored": True}))
    subscription = None
    if (subscription_id := stripe_events.subscription_id_of(event)) and services.stripe is not None:
        read_at = clock.now()
        with answered_as_unavailable():
            subscription = plans.Retrieved(await services.stripe.subscription(subscription_id), read_at)
    first, effect = await stripe_events.apply(services.db, event, subscription=subscription, plan_policy=settings.plans)
    log.info("stripe event", extra={"eventId": event["id"], "type": event["type"], "duplicate": not first, "effect": type(effect).__name__})
    match effect:
        case stripe_events.DepositSettled(deposit):
            await money.deposit_settled(services, deposit)
        case stripe_events.PayoutsChanged(user_id, payouts):
            await money.payouts_changed(services, user_id, payouts)
        case stripe_events.PlanChanged(user_id):
            await plan_jobs.changed(services, user_id)
        case stripe_events.Unprocessable(reason):
            log.warning("stripe event ignored: its object lacks what we need", extra={"eventId": event["id"], "reason": reason})
            return web.json_response(ok({"received": True, "duplicate": False, "ignored": True}))
    return web.json_response(ok({"received": True, "duplicate": not first}))


@routes.get("/api/checkout/success")
async def checkout_success(request: web.Request) -> web.Response:
    return _back_to_app(
        request, "success", "Payment received", "Your wallet is credited as soon as Stripe confirms the payment. You can return to the app."
    )


@routes.get("/api/checkout/cancel")
async def checkout_cancel(request: web.Request) -> web.Response:
    return _back_to_app(request, "cancel", "Payment cancelled", "Nothing was charged. You can return to the app.")


@routes.get("/api/plans/success")
async def plan_success(request: web.Request) -> web.Response:
    return _back_to_app(
        request, "subscribed", "Subscription started", "Your plan is active as soon as Stripe confirms the payment. You can return to the app."
    )


@routes.get("/api/plans/cancel")
async def plan_cancel(request: web.Request) -> web.Response:
    return _back_to_app(request, "cancel", "Subscription cancelled", "Nothing was charged. You can return to the app.")


def _back_to_app(request: web.Request, outcome: str, title: str, message: str) -> web.Response:
    """A redirect to `APP_RETURN_URL` (with `checkout` and `session_id`) when set, else a tiny page."""
    return_url = request.app["services"].settings.app_return_url
    if return_url:
        query = {"checkout": outcome} | ({"session_id": request.query["session_id"]} if "session_id" in request.query else {})
        separator = "&" if "?" in return_url else "?"
        return web.Response(status=302, headers={"Location": return_url + separator + urlencode(query)})
    page = f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
    return web.Response(text=page, content_type="text/html")
