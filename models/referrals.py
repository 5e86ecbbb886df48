"""Referrals: every user has a code; a user who registered with someone's code is *referred*, and when their first task
completes (as customer or contractor), both they and their referrer are credited `REFERRAL_REWARD_CENTS` from
`platform:marketing` (ledger type `referral_reward`, which may go negative: it is what the platform spends on growth).

On the referred user: `referral {by, qualifiedAt, referredPaid, referrerPaid, referrerCapped}`, written once at
registration (`by` never changes) and then only forward. A reward is keyed per referred user and side
(`referral:<referredId>:referred|referrer`), so it is paid once whatever retries. Each side needs a verified email when
paid; an unverified side's reward waits and is paid when they verify (and by the reconciliation sweep, should that
moment be missed). A referrer is paid for at most `REFERRAL_MAX_REWARDS` people: a conditional increment of their
`referralStats.rewarded` decides, so two concurrent rewards cannot pass the cap.
"""

from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock, ledger, users
from models.db import Database
from models.errors import AppError
from models.pages import count

REFERRED, REFERRER = "referred", "referrer"
QUALIFIED = {"referral.qualifiedAt": {"$ne": None}}
REFERRER_UNPAID = {"referral.referrerPaid": {"$ne": True}, "referral.referrerCapped": {"$ne": True}}
"""A referred user whose referrer's reward may still be paid: not paid yet, and not refused by the referrer's cap."""


@dataclass(frozen=True, slots=True)
class ReferralPolicy:
    reward_cents: int
    max_rewards: int


@dataclass(frozen=True, slots=True)
class Rewarded:
    """Pushed as `referral:rewarded` (and `wallet:updated`) to `user_id` after commit."""

    user_id: ObjectId
    side: str
    referred_id: ObjectId
    amount: int


def normalized(code: str) -> str:
    return code.strip().upper()


def mailbox(email: str) -> str:
    """The mailbox an address delivers to, as far as we can tell: `+tags` dropped (and Gmail's dots), case ignored."""
    local, _, domain = users.email_key(email).partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


async def referrer_of(db: Database, session: AsyncClientSession, code: str | None, email: str) -> ObjectId | None:
    """The user whose code this is, for a new account with `email`; `400 invalid_referral_code` for an unknown code, or
    for one's own (an address of the referrer's mailbox: `me+2@…` is still me)."""
    if code is None:
        return None
    found = await db[users.COLLECTION].find_one({"referralCode": normalized(code)}, {"_id": 1, "email": 1}, session=session)
    if found is None:
        raise AppError("invalid_referral_code", "No one has this referral code.")
    if mailbox(found["email"]) == mailbox(email):
        raise AppError("invalid_referral_code", "You cannot use your own referral code.", {"reason": "self"})
    return found["_id"]


async def on_completed(db: Database, session: AsyncClientSession, task: dict[str, Any], policy: ReferralPolicy) -> list[Rewarded]:
    """In the completion's transaction: each referred side whose first task this is qualifies, and is paid what can be."""
    paid: list[Rewarded] = []
    for user_id in (task["ownerId"], task["contractorId"]):
        qualified = await db[users.COLLECTION].find_one_and_update(
            {"_id": user_id, "referral.by": {"$ne": None}, "referral.qualifiedAt": None},
            {"$set": {"referral.qualifiedAt": clock.now(), "referral.taskId": task["_id"]}},
            {"_id": 1},
            session=session,
        )
        if qualified is not None:
            paid += await _pay(db, session, user_id, policy)
    return paid


async def pay_waiting(db: Database, user_id: ObjectId, policy: ReferralPolicy) -> list[Rewarded]:
    """The user just verified their email: pay what waited for it, as referred user and as referrer."""

    async def work(session: AsyncClientSession) -> list[Rewarded]:
        paid = await _pay(db, session, user_id, policy)
        waiting = db[users.COLLECTION].find({"referral.by": user_id, **QUALIFIED, **REFERRER_UNPAID}, {"_id": 1}, session=session)
        for referred in await waiting.to_list():
            paid += await _pay(db, session, referred["_id"], policy)
        return paid

    return await db.transaction(work)


async def sweep(db: Database, policy: ReferralPolicy) -> list[Rewarded]:
    """Reconciliation: pay every qualified reward whose side is verified now (a missed verification moment)."""
    unpaid = QUALIFIED | {"$or": [{"referral.referredPaid": {"$ne": True}}, REFERRER_UNPAID]}
    paid: list[Rewarded] = []
    for referred in await db[users.COLLECTION].find(unpaid, {"_id": 1}).to_list():
        paid += await db.transaction(lambda session, referred_id=referred["_id"]: _pay(db, session, referred_id, policy))
    return paid


async def _pay(db: Database, session: AsyncClientSession, referred_id: ObjectId, policy: ReferralPolicy) -> list[Rewarded]:
    """Pay a qualified referred user's two rewards, each if its side is verified and it is not paid yet."""
    referred = await db[users.COLLECTION].find_one({"_id": referred_id}, {"referral": 1, "emailVerified": 1}, session=session)
    referral = (referred or {}).get("referral") or {}
    if not referral.get("by") or referral.get("qualifiedAt") is None:
        return []
    paid = []
    if not referral.get("referredPaid") and referred.get("emailVerified"):
        paid.append(await _credit(db, session, referred_id, REFERRED, referred_id, policy, "referredPaid"))
    if not referral.get("referrerPaid") and not referral.get("referrerCapped"):
        referrer = await db[users.COLLECTION].find_one({"_id": referral["by"]}, {"emailVerified": 1}, session=session)
        if referrer is not None and referrer.get("emailVerified"):
            under_cap = await db[users.COLLECTION].update_one(
                {"_id": referral["by"], "$or": [{"referralStats.rewarded": None}, {"referralStats.rewarded": {"$lt": policy.max_rewards}}]},
                {"$inc": {"referralStats.rewarded": 1}},
                session=session,
            )
            if under_cap.modified_count == 1:
                paid.append(await _credit(db, session, referral["by"], REFERRER, referred_id, policy, "referrerPaid"))
            else:
                await db[users.COLLECTION].update_one({"_id": referred_id}, {"$set": {"referral.referrerCapped": True}}, session=session)
    return paid


async def _credit(
    db: Database, session: AsyncClientSession, user_id: ObjectId, side: str, referred_id: ObjectId, policy: ReferralPolicy, flag: str
) -> Rewarded:
    await ledger.post(
        db,
        session,
        key=f"referral:{referred_id}:{side}",
        type="referral_reward",
        entries=[ledger.Entry(ledger.MARKETING, -policy.reward_cents), ledger.Entry(ledger.wallet(user_id), policy.reward_cents)],
        refs={"referredUserId": referred_id, "side": side},
    )
    await db[users.COLLECTION].update_one({"_id": referred_id}, {"$set": {f"referral.{flag}": True}}, session=session)
    await db[users.COLLECTION].update_one({"_id": user_id}, {"$inc": {"referralStats.earnedCents": policy.reward_cents}}, session=session)
    return Rewarded(user_id, side, referred_id, policy.reward_cents)


async def summary(db: Database, user_id: str, public_url: str) -> dict[str, Any]:
    user = await users.get(db, user_id)
    referred = await count(db[users.COLLECTION], {"referral.by": user["_id"]})
    qualified = await count(db[users.COLLECTION], {"referral.by": user["_id"], **QUALIFIED})
    return {
        "code": user["referralCode"],
        "link": f"{public_url.rstrip('/')}/r/{user['referralCode']}",
        "referred": referred,
        "qualified": qualified,
        "earnedCents": (user.get("referralStats") or {}).get("earnedCents", 0),
    }
