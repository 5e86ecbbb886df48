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

from models import clock, deposits, payout_accounts, reconciliation
from models.db import Database

COLLECTION = "stripe_events"
PAID_CHECKOUTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
UNPAID_CHECKOUTS = ("checkout.session.async_payment_failed", "checkout.session.expired")


@dataclass(frozen=True, slots=True)
class DepositSettled:
    deposit: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PayoutsChanged:
    user_id: ObjectId
    payouts: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Unprocessable:
    """A handled type whose object lacks the shape we need: acknowledged (a retry cannot fix it) and left to an admin."""

    reason: str


type Effect = DepositSettled | PayoutsChanged | Unprocessable | None


class _Lenient(BaseModel):
    """What we read of a Stripe object; the rest is Stripe's business."""

    model_config = ConfigDict(extra="ignore")


class CheckoutObject(_Lenient):
    id: str
    payment_status: str | None = None
    payment_intent: str | None = None
    metadata: dict[str, str] | None = None


class Requirements(_Lenient):
    currently_due: list[str] | None = None
    past_due: list[str] | None = None
    disabled_reason: str | None = None


class AccountObject(_Lenient):
    id: str
    payouts_enabled: bool | None = None
    details_submitted: bool | None = None
    requirements: Requirements | None = None


SHAPES: dict[str, type[BaseModel]] = {"account.updated": AccountObject} | dict.fromkeys(PAID_CHECKOUTS + UNPAID_CHECKOUTS, CheckoutObject)


async def apply(db: Database, event: dict[str, Any]) -> tuple[bool, Effect]:
    """`(first delivery?, effect)`: the effect is what the users concerned should be told."""

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
