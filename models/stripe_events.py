"""What a verified Stripe webhook event changes, applied once per event id.

The event id is stored in the same MongoDB transaction as the event's effect, so a
duplicate delivery finds it and changes nothing, and a failure part-way stores nothing
and Stripe's retry starts clean.
"""

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pydantic import BaseModel, ConfigDict, ValidationError
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from models import clock, deposits, payout_accounts, plans, reconciliation
from models.db import Database
from models.plans import PlanPolicy, Retrieved

COLLECTION = "stripe_events"
PAID_CHECKOUTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
UNPAID_CHECKOUTS = ("checkout.session.async_payment_failed", "checkout.session.expired")
SUBSCRIPTION_EVENTS = tuple(f"customer.subscription.{change}" for change in ("created", "updated", "deleted", "paused", "resumed"))
INVOICE_EVENTS = ("invoice.paid", "invoice.payment_failed")


@dataclass(frozen=True, slots=True)
class DepositSettled:
    deposit: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PlanChanged:
    user_id: ObjectId


@dataclass(frozen=True, slots=True)
class PayoutsChanged:
    user_id: ObjectId
    payouts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unprocessable:
    """A handled type whose object lacks the shape we need: acknowledged (a retry cannot fix it) and left to an admin."""

    reason: str


type Effect = DepositSettled | PayoutsChanged | PlanChanged | Unprocessable | None


class _Lenient(BaseModel):
    """What we read of a Stripe object; the rest is Stripe's business."""

    model_config = ConfigDict(extra="ignore")


class CheckoutObject(_Lenient):
    id: str
    mode: str | None = None
    payment_status: str | None = None
    payment_intent: str | None = None
    subscription: str | None = None
    metadata: dict[str, str] | None = None


class SubscriptionObject(_Lenient):
    id: str


class InvoiceParent(_Lenient):
    subscription_details: dict[str, Any] | None = None


class InvoiceObject(_Lenient):
    id: str
    subscription: str | None = None
    parent: InvoiceParent | None = None


class Requirements(_Lenient):
    currently_due: list[str] | None = None
    past_due: list[str] | None = None
    disabled_reason: str | None = None


class AccountObject(_Lenient):
    id: str
    payouts_enabled: bool | None = None
    details_submitted: bool | None = None
    requirements: Requirements | None = None


SHAPES: dict[str, type[BaseModel]] = (
    {"account.updated": AccountObject}
    | dict.fromkeys(PAID_CHECKOUTS + UNPAID_CHECKOUTS, CheckoutObject)
    | dict.fromkeys(SUBSCRIPTION_EVENTS, SubscriptionObject)
    | dict.fromkeys(INVOICE_EVENTS, InvoiceObject)
)


def subscription_id_of(event: dict[str, Any]) -> str | None:
    """The subscription an event is about, if it is one of the plan events (the route asks Stripe for its current state)."""
    subject = (event.get("data") or {}).get("object")
    if not isinstance(subject, dict):
        return None
    kind = event.get("type")
    if kind == "checkout.session.completed" and subject.get("mode") == "subscription":
        found = subject.get("subscription")
    elif kind in SUBSCRIPTION_EVENTS:
        found = subject.get("id")
    elif kind in INVOICE_EVENTS:
        details = (subject.get("parent") or {}).get("subscription_details") if isinstance(subject.get("parent"), dict) else None
        found = subject.get("subscription") or (details.get("subscription") if isinstance(details, dict) else None)
    else:
        found = None
    return found if isinstance(found, str) and found else None


async def apply(
    db: Database, event: dict[str, Any], *, subscription: Retrieved | None = None, plan_policy: PlanPolicy | None = None
) -> tuple[bool, Effect]:
    """`(first delivery?, effect)`: the effect is what the users concerned should be told.

    For a plan event, `subscription` is the subscription as Stripe has it now (retrieved by the caller).
    """

    async def work(session: AsyncClientSession) -> tuple[bool, Effect]:
        if await db[COLLECTION].find_one({"_id": event["id"]}, {"_id": 1}, session=session):
            return False, None
        await db[COLLECTION].insert_one({"_id": event["id"], "type": event["type"], "receivedAt": clock.now()}, session=session)
        shape = SHAPES.get(event["type"])
        if shape is None:
            return True, None
        try:
            subject = shape.model_validate(event["data"]["object"]).model_dump()
        except ValidationError as error:
            reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'object'}: {e['msg']}" for e in error.errors(include_url=False))[:500]
            await reconciliation.unprocessable_event(db, session, event, reason)
            return True, Unprocessable(reason)
        if subscription is not None and plan_policy is not None:
            paid = subject["id"] if event["type"] == "invoice.paid" else None
            changed = await plans.apply_subscription(db, session, subscription, plan_policy, paid_invoice=paid)
            return True, changed and PlanChanged(changed)
        return True, await _effect_of(db, session, event | {"data": {"object": subject}})

    try:
        return await db.transaction(work)
    except DuplicateKeyError:
        return False, None


async def _effect_of(db: Database, session: AsyncClientSession, event: dict[str, Any]) -> Effect:
    subject = event["data"]["object"]
    if event["type"] == "account.updated":
        changed = await payout_accounts.update_from_stripe(db, session, subject, event["created"])
        return changed and PayoutsChanged(*changed)
    deposit_id = _deposit_id(subject)
    if deposit_id is None:
        return None
    refs = {"checkoutSessionId": subject.get("id"), "paymentIntentId": subject.get("payment_intent"), "eventId": event["id"]}
    if event["type"] in PAID_CHECKOUTS and subject.get("payment_status") == "paid":
        settled = await deposits.credit(db, session, deposit_id, refs)
    elif event["type"] in UNPAID_CHECKOUTS:
        settled = await deposits.fail(db, session, deposit_id, refs)
    else:
        return None
    return settled and DepositSettled(settled)


def _deposit_id(checkout: dict[str, Any]) -> ObjectId | None:
    """Sessions we did not create (no `metadata.depositId`) are none of our business."""
    value = (checkout.get("metadata") or {}).get("depositId")
    return ObjectId(value) if isinstance(value, str) and ObjectId.is_valid(value) else None
