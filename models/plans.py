"""Plans: free, Pro and Elite; what each allows; and the Stripe subscription that decides a user's plan.

A user's plan is derived, never stored as a verdict: from the subscription state Stripe
last reported (`subscription` on the user: status, price, period), read with
`effective_tier` at the moment it matters. `active` and `trialing` grant the plan of the
price; `past_due` keeps it for `PLAN_GRACE_SECONDS` after the first failed payment;
anything else is `free`.

Limits count what is live now (`models/tasks.py` counts), inside the transaction that would add to it, after a write
to the user's own document (`guard`), so two concurrent requests of one user conflict and
one recounts: on a replica set as in the embedded engine, no race overshoots. Downgrades
delete nothing; new listings or partners are refused until the user is back under the limit.

- a *listing* is a task the user owns that is not `completed` or `cancelled`;
- a *trade partner* is a distinct counterparty in the user's trades underway (tasks from
  `assigned` up to, not including, `completed`/`cancelled`), as customer or contractor.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock, users
from models.db import Database
from models.errors import AppError

log = logging.getLogger(__name__)
FREE, PRO, ELITE = "free", "pro", "elite"
TIERS = (FREE, PRO, ELITE)
ACTIVE = ("active", "trialing")
FINAL = ("canceled", "incomplete_expired")
"""Statuses a subscription never leaves: reconciliation stops re-reading them."""
CHECKOUT_REUSE = timedelta(hours=23)
"""A subscription Checkout page is offered again for this long (Stripe keeps it open 24 hours): a second tap on "subscribe"
opens the same page, so one user cannot pay for the same plan twice by accident."""


@dataclass(frozen=True, slots=True)
class Retrieved:
    """A subscription as Stripe reported it, and when we asked: of two racing reads, the later one's answer is kept."""

    subscription: dict[str, Any]
    read_at: datetime


@dataclass(frozen=True, slots=True)
class PlanPolicy:
    free_listings: int
    free_partners: int
    pro_listings: int
    pro_partners: int
    grace_seconds: float
    elite_monthly_boosts: int
    price_pro: str | None = None
    price_elite: str | None = None

    @property
    def available(self) -> bool:
        return bool(self.price_pro and self.price_elite)

    def price_of(self, tier: str) -> str | None:
        return {PRO: self.price_pro, ELITE: self.price_elite}.get(tier)

    def tier_of_price(self, price_id: str | None) -> str | None:
        """The plan a Stripe price buys; None for a price that is neither plan's."""
        if price_id and price_id == self.price_elite:
            return ELITE
        if price_id and price_id == self.price_pro:
            return PRO
        return None

    def limits(self, tier: str) -> dict[str, int | None]:
        """`None` is unlimited; `0` is none at all on this plan."""
        return {
            FREE: {"listings": self.free_listings, "partners": self.free_partners},
            PRO: {"listings": self.pro_listings, "partners": self.pro_partners},
            ELITE: {"listings": None, "partners": None},
        }[tier]


def effective_tier(subscription: dict[str, Any] | None, policy: PlanPolicy, now: datetime | None = None) -> str:
    """The plan a stored subscription grants at `now` (see the module doc)."""
    if not subscription or subscription.get("tier") not in (PRO, ELITE):
        return FREE
    status = subscription.get("status")
    if status in ACTIVE:
        return subscription["tier"]
    since = subscription.get("pastDueSince")
    if status == "past_due" and since is not None and (now or clock.now()) - since < timedelta(seconds=policy.grace_seconds):
        return subscription["tier"]
    return FREE


def tier_of(user: dict[str, Any], policy: PlanPolicy) -> str:
    """The user's plan now, from the subscription stored on them."""
    return effective_tier(user.get("subscription"), policy)


def tier_filter(tier: str, policy: PlanPolicy, now: datetime | None = None) -> dict[str, Any]:
    """A query for users on `tier` now: `effective_tier` as a MongoDB filter (admin search)."""
    grace_start = (now or clock.now()) - timedelta(seconds=policy.grace_seconds)
    granting = {
        "$or": [
            {"subscription.status": {"$in": list(ACTIVE)}},
            {"subscription.status": "past_due", "subscription.pastDueSince": {"$gt": grace_start}},
        ]
    }
    if tier == FREE:
        return {"$nor": [{"subscription.tier": {"$in": [PRO, ELITE]}, **granting}]}
    return {"subscription.tier": tier, **granting}


def is_subscribed(subscription: dict[str, Any] | None) -> bool:
    """A subscription the user is paying for (or will be): changing plans goes through the billing portal then."""
    return bool(subscription) and subscription.get("status") in (*ACTIVE, "past_due", "incomplete", "unpaid", "paused")


async def guard(db: Database, session: AsyncClientSession, user_id: ObjectId) -> dict[str, Any]:
    """Write to the user's document first: a concurrent transaction of the same user now conflicts instead of both counting
    the same usage. Returns the user (its subscription)."""
    user = await db[users.COLLECTION].find_one_and_update({"_id": user_id}, {"$inc": {"planGuard": 1}}, {"subscription": 1}, session=session)
    if user is None:
        raise AppError("not_found", "No such user.")
    return user


def refuse_listing(tier: str, used: int, policy: PlanPolicy) -> None:
    """`plan_limit` (kind `listings`) when one more listing would go over the plan."""
    limit = policy.limits(tier)["listings"]
    if limit is not None and used >= limit:
        raise AppError("plan_limit", f"Your plan allows {limit} open listing(s).", {"limit": limit, "used": used, "plan": tier, "kind": "listings"})


def refuse_partner(user_id: ObjectId, tier: str, current: set[ObjectId], other: ObjectId, policy: PlanPolicy) -> None:
    """`plan_limit` (kind `partners`, naming whose limit) when `other` would be one partner too many; an existing partner adds nothing."""
    limit = policy.limits(tier)["partners"]
    if limit is not None and other not in current and len(current) >= limit:
        raise AppError(
            "plan_limit",
            f"A plan allows {limit} trade partner(s) at a time." if limit else "Trading needs a plan.",
            {"limit": limit, "used": len(current), "plan": tier, "kind": "partners", "userId": str(user_id)},
        )


def subscription_from_stripe(
    stripe_subscription: dict[str, Any], previous: dict[str, Any] | None, policy: PlanPolicy, read_at: datetime | None = None
) -> dict[str, Any]:
    """What we keep of a subscription Stripe reported (see `models/plans` doc): the current state, whatever order events came in."""
    items = (stripe_subscription.get("items") or {}).get("data") or []
    price = next(((item.get("price") or {}).get("id") for item in items if (item.get("price") or {}).get("id")), None)
    ends = [item["current_period_end"] for item in items if isinstance(item.get("current_period_end"), int)]
    period_end = max(ends) if ends else stripe_subscription.get("current_period_end")
    status = stripe_subscription.get("status")
    past_due_since = None
    if status == "past_due":
        past_due_since = (previous or {}).get("pastDueSince") if (previous or {}).get("status") == "past_due" else clock.now()
    return {
        "id": stripe_subscription["id"], "customerId": stripe_subscription.get("customer"), "status": status, "priceId": price,
        "tier": policy.tier_of_price(price), "currentPeriodEnd": datetime.fromtimestamp(period_end, clock.now().tzinfo) if period_end else None,
        "cancelAtPeriodEnd": bool(stripe_subscription.get("cancel_at_period_end")), "pastDueSince": past_due_since, "readAt": read_at or clock.now(),
    }  # fmt: skip


async def store_subscription(db: Database, session: AsyncClientSession, user_id: ObjectId, retrieved: Retrieved,
                             policy: PlanPolicy) -> dict[str, Any] | None:  # fmt: skip
    """Keep the subscription's current state on its user; the user after, or None when nothing changed (or what is stored
    was read from Stripe later than this)."""
    user = await db[users.COLLECTION].find_one({"_id": user_id}, {"subscription": 1}, session=session)
    if user is None:
        return None
    stored = user.get("subscription") or {}
    if stored.get("id") == retrieved.subscription["id"] and stored.get("readAt") and stored["readAt"] > retrieved.read_at:
        return None
    if stored.get("id") not in (None, retrieved.subscription["id"]) and is_subscribed(stored) and not is_subscribed(retrieved.subscription):
        return None  # late news of an older, ended subscription does not replace the one the user has now
    kept = subscription_from_stripe(retrieved.subscription, stored, policy, retrieved.read_at)
    previous = {key: value for key, value in stored.items() if key != "readAt"}
    if previous == {key: value for key, value in kept.items() if key != "readAt"}:
        return None
    return await db[users.COLLECTION].find_one_and_update(
        {"_id": user_id}, {"$set": {"subscription": kept}}, return_document=ReturnDocument.AFTER, session=session
    )


async def grant_elite_credits(db: Database, session: AsyncClientSession, user_id: ObjectId, invoice_id: str, expires_at: datetime | None,
                              count: int) -> bool:  # fmt: skip
    """`count` boost credits for the paid period, once per invoice; what was left of the last period's is replaced, not added."""
    granted = await db[users.COLLECTION].update_one(
        {"_id": user_id, "boostCredits.invoiceId": {"$ne": invoice_id}},
        {"$set": {"boostCredits": {"count": count, "expiresAt": expires_at, "invoiceId": invoice_id, "grantedAt": clock.now()}}},
        session=session,
    )
    return granted.modified_count == 1


def credits_left(user: dict[str, Any], now: datetime | None = None) -> int:
    credits = user.get("boostCredits") or {}
    expires = credits.get("expiresAt")
    if expires is not None and expires <= (now or clock.now()):
        return 0
    return int(credits.get("count", 0))


def view(user: dict[str, Any], policy: PlanPolicy, used: dict[str, int]) -> dict[str, Any]:
    """What `plan:get` and `plan:updated` say."""
    subscription = user.get("subscription") or {}
    tier = tier_of(user, policy)
    period_end = subscription.get("currentPeriodEnd")
    return {
        "plan": tier, "status": subscription.get("status"), "priceId": subscription.get("priceId"),
        "currentPeriodEnd": period_end.isoformat() if period_end else None, "cancelAtPeriodEnd": bool(subscription.get("cancelAtPeriodEnd")),
        "limits": policy.limits(tier), "usage": used, "boostCredits": credits_left(user),
    }  # fmt: skip


def grace_ends_at(user: dict[str, Any], policy: PlanPolicy) -> datetime | None:
    """When a past-due subscription stops granting its plan (None unless past due)."""
    subscription = user.get("subscription") or {}
    if subscription.get("status") != "past_due" or subscription.get("pastDueSince") is None:
        return None
    return subscription["pastDueSince"] + timedelta(seconds=policy.grace_seconds)


async def end_grace(db: Database, user_id: ObjectId, past_due_since: datetime) -> bool:
    """Whether the user should now be told their grace period ended: once per past-due spell, and only if still past due."""
    ended = await db.transaction(
        lambda session: db[users.COLLECTION].update_one(
            {"_id": user_id, "subscription.status": "past_due", "subscription.pastDueSince": past_due_since, "graceEnded": {"$ne": past_due_since}},
            {"$set": {"graceEnded": past_due_since}},
            session=session,
        )
    )
    return ended.modified_count == 1


async def users_to_reread(db: Database) -> list[dict[str, Any]]:
    """Users whose subscription could still change, and those whose Checkout page is still open (or was lately) with no
    subscription stored: reconciliation asks Stripe about them (`subscription.id`, or `planCheckout.sessionId`)."""
    live = {"subscription.id": {"$ne": None}, "subscription.status": {"$nin": list(FINAL)}}
    recent_checkout = {"planCheckout.expiresAt": {"$gt": clock.now() - CHECKOUT_REUSE}}
    return await db[users.COLLECTION].find({"$or": [live, recent_checkout]}, {"subscription": 1, "planCheckout": 1}).to_list()


def live_subscription_id(user: dict[str, Any]) -> str | None:
    """The stored subscription to read again, if it could still change; None: look at the user's Checkout session instead."""
    subscription = user.get("subscription") or {}
    return subscription.get("id") if subscription.get("status") not in FINAL else None


def owner_of(stripe_subscription: dict[str, Any]) -> ObjectId | None:
    value = (stripe_subscription.get("metadata") or {}).get("userId")
    return ObjectId(value) if isinstance(value, str) and ObjectId.is_valid(value) else None


async def apply_subscription(db: Database, session: AsyncClientSession, retrieved: Retrieved, policy: PlanPolicy,
                             *, paid_invoice: str | None = None) -> ObjectId | None:  # fmt: skip
    """Store what Stripe now says of a subscription on its user (and grant Elite credits for a paid invoice, once each);
    the user whose plan view changed, or None. A price that is neither plan's is logged and ignored."""
    stripe_subscription = retrieved.subscription
    user_id = owner_of(stripe_subscription)
    if user_id is None:
        found = await db[users.COLLECTION].find_one({"stripeCustomerId": stripe_subscription.get("customer")}, {"_id": 1}, session=session)
        user_id = found and found["_id"]
    if user_id is None:
        log.warning("a Stripe subscription of no user of ours", extra={"subscriptionId": stripe_subscription.get("id")})
        return None
    kept = subscription_from_stripe(stripe_subscription, None, policy)
    if kept["tier"] is None:
        log.warning("a Stripe subscription to a price that is neither plan's", extra={"subscriptionId": kept["id"], "priceId": kept["priceId"]})
        return None
    changed = await store_subscription(db, session, user_id, retrieved, policy) is not None
    if paid_invoice and kept["tier"] == ELITE and kept["status"] in ACTIVE:
        changed |= await grant_elite_credits(db, session, user_id, paid_invoice, kept["currentPeriodEnd"], policy.elite_monthly_boosts)
    return user_id if changed else None


async def heal(db: Database, retrieved: Retrieved, policy: PlanPolicy) -> ObjectId | None:
    """Reconciliation: store a subscription as Stripe has it now (a missed webhook); the user whose plan changed, or None.

    An `active` subscription's latest invoice is paid, so a missed `invoice.paid` still grants Elite credits (once per invoice)."""
    subscription = retrieved.subscription
    latest = subscription.get("latest_invoice")
    latest = latest.get("id") if isinstance(latest, dict) else latest
    paid = latest if subscription.get("status") == "active" and isinstance(latest, str) else None
    return await db.transaction(lambda session: apply_subscription(db, session, retrieved, policy, paid_invoice=paid))


def checkout_to_reuse(user: dict[str, Any], tier: str) -> dict[str, str] | None:
    pending = user.get("planCheckout") or {}
    if pending.get("plan") == tier and pending.get("expiresAt") and pending["expiresAt"] > clock.now():
        return {"url": pending["url"], "sessionId": pending["sessionId"]}
    return None


async def remember_checkout(db: Database, user_id: ObjectId, tier: str, session_id: str, url: str) -> None:
    pending = {"plan": tier, "sessionId": session_id, "url": url, "expiresAt": clock.now() + CHECKOUT_REUSE}
    await _set(db, user_id, {"planCheckout": pending})


async def remember_customer(db: Database, user_id: ObjectId, customer_id: str) -> None:
    """The user's Stripe Customer, made once (idempotency key `customer:<userId>`) and kept for Checkout and the portal."""
    await _set(db, user_id, {"stripeCustomerId": customer_id})


async def _set(db: Database, user_id: ObjectId, fields: dict[str, Any]) -> None:
    await db.transaction(lambda session: db[users.COLLECTION].update_one({"_id": user_id}, {"$set": fields}, session=session))
