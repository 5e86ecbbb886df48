"""What a verified Stripe webhook event changes, applied once per event id.

The event id is stored in the same MongoDB transaction as the event's effect, so a
duplicate delivery finds it and changes nothing, and a failure part-way stores nothing
and Stripe's retry starts clean.
"""

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from models import clock, deposits, payout_accounts
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


type Effect = DepositSettled | PayoutsChanged | None


async def apply(db: Database, event: dict[str, Any]) -> tuple[bool, Effect]:
    """`(first delivery?, effect)`: the effect is what the users concerned should be told."""

    async def work(session: AsyncClientSession) -> tuple[bool, Effect]:
        if await db[COLLECTION].find_one({"_id": event["id"]}, {"_id": 1}, session=session):
            return False, None
        await db[COLLECTION].insert_one({"_id": event["id"], "type": event["type"], "receivedAt": clock.now()}, session=session)
        return True, await _effect_of(db, session, event)

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
