"""Contractors' Stripe Connect (Express) accounts and what Stripe says about them.

Stored on the user as `payouts: {accountId, status, payoutsEnabled, requirementsNeeded}`.
`status` is ours, derived from the Stripe account: `verified` once payouts are enabled
and nothing is currently due, `restricted` when Stripe disabled an account whose details
were submitted, `pending` in between, `not_connected` before onboarding. `verified` is
what the apps show as the verified badge.
"""

from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock, users
from models.db import Database
from models.errors import AppError

NOT_CONNECTED = {"accountId": None, "status": "not_connected", "payoutsEnabled": False, "requirementsNeeded": []}


async def ensure_indexes(db: Database) -> None:
    await db[users.COLLECTION].create_index("payouts.accountId")


def status_of(account: dict[str, Any]) -> dict[str, Any]:
    requirements = account.get("requirements") or {}
    needed = sorted(set(requirements.get("currently_due") or []) | set(requirements.get("past_due") or []))
    if account.get("payouts_enabled") and not needed:
        status = "verified"
    elif account.get("details_submitted") and requirements.get("disabled_reason"):
        status = "restricted"
    else:
        status = "pending"
    return {"accountId": account["id"], "status": status, "payoutsEnabled": bool(account.get("payouts_enabled")), "requirementsNeeded": needed}


def identity_verified(user: dict[str, Any]) -> bool:
    """The user's connected account is `verified` (Stripe checked their identity): the badge profiles and searches show."""
    return (user.get("payouts") or {}).get("status") == "verified"


async def of_user(db: Database, session: AsyncClientSession | None, user_id: str | ObjectId) -> dict[str, Any]:
    user = await db[users.COLLECTION].find_one({"_id": ObjectId(user_id)}, {"payouts": 1}, session=session)
    stored = (user or {}).get("payouts") or NOT_CONNECTED
    return {field: stored[field] for field in NOT_CONNECTED}


async def dashboard_account(db: Database, user_id: str) -> str:
    """The connected account whose Express dashboard the user may open: one that finished onboarding (Stripe has its
    details); otherwise `invalid_state`."""
    user = await db[users.COLLECTION].find_one({"_id": ObjectId(user_id)}, {"payouts": 1})
    payouts = (user or {}).get("payouts") or NOT_CONNECTED
    if not payouts.get("accountId") or not (payouts.get("detailsSubmitted") or payouts.get("status") == "verified"):
        raise AppError("invalid_state", "Finish Stripe onboarding first (payouts:onboard).", {"status": payouts.get("status")})
    return payouts["accountId"]


async def connect(db: Database, user_id: str, account_id: str) -> dict[str, Any]:
    """Remember the user's account, once: a second account id for the same user is ignored."""
    payouts = {"accountId": account_id, "status": "pending", "payoutsEnabled": False, "requirementsNeeded": [], "updatedAt": clock.now()}
    await db.transaction(
        lambda session: db[users.COLLECTION].update_one(
            {"_id": ObjectId(user_id), "payouts.accountId": None},
            {"$set": {"payouts": payouts}},
            session=session,
        )
    )
    return await of_user(db, None, user_id)


async def update_from_stripe(
    db: Database,
    session: AsyncClientSession,
    account: dict[str, Any],
    snapshot_time: int,
) -> tuple[ObjectId, dict[str, Any]] | None:
    """Apply an `account.updated` snapshot unless a newer one was applied (webhooks arrive in any order).

    Returns the owner and the new status, or None for an unknown account or a stale snapshot.
    """
    current = status_of(account)
    user = await db[users.COLLECTION].find_one_and_update(
        {"payouts.accountId": account["id"], "$or": [{"payouts.snapshotTime": None}, {"payouts.snapshotTime": {"$lte": snapshot_time}}]},
        {
            "$set": {
                "payouts": current
                | {"detailsSubmitted": bool(account.get("details_submitted")), "snapshotTime": snapshot_time, "updatedAt": clock.now()}
            }
        },
        session=session,
    )
    return (user["_id"], current) if user else None
