"""Contractors' withdrawal requests: a hold when asked, then an admin's approval or rejection.

Approval is one MongoDB transaction: the request moves `pending → approved` (a
conditional update, so of two admins clicking at once exactly one wins), the hold is
captured to `external:stripe`, and a payout record is written for `models.payouts` to
carry out. Rejection releases the hold. The request's later states (`paid`, `failed`)
follow its payout.
"""

from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import client_requests, clock, ledger, payout_accounts, payouts, requests, users, wallets
from models.client_requests import ClientRequest
from models.db import Database
from models.errors import AppError

COLLECTION = payouts.REQUESTS
MIN_CENTS, MAX_CENTS = 1_000, 100_000_000
STATUSES = ("pending", "approved", "paid", "failed", "rejected")
WHAT = "withdrawal request"


def public(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(request["_id"]),
        "userId": str(request["userId"]),
        "amount": request["amount"],
        "currency": request["currency"],
        "status": request["status"],
        "reason": request.get("reason"),
        "transferId": request.get("transferId"),
        "createdAt": request["createdAt"].isoformat(),
        "resolvedAt": request["resolvedAt"].isoformat() if request.get("resolvedAt") else None,
    }


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index([("status", 1), ("createdAt", -1)])
    await db[COLLECTION].create_index([("userId", 1), ("createdAt", -1)])
    await client_requests.ensure_index(db, COLLECTION)


async def request(db: Database, user_id: str, amount: int, client_request: ClientRequest | None = None) -> tuple[dict[str, Any], bool]:
    """`(request, created?)`: a retried request gets the withdrawal request it made, and nothing is held twice."""
    withdrawal = {
        "_id": ObjectId(),
        "userId": ObjectId(user_id),
        "amount": amount,
        "currency": ledger.CURRENCY,
        "status": "pending",
        "createdAt": clock.now(),
        **client_requests.stamp(client_request),
    }

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        await _require_verified_email(db, session, user_id)
        await _require_payouts_enabled(db, session, user_id)
        await ledger.post(
            db,
            session,
            key=f"withdrawal-hold:{withdrawal['_id']}",
            type="hold",
            entries=ledger.hold(user_id, amount),
            refs={"userId": withdrawal["userId"], "requestId": withdrawal["_id"]},
        )
        await db[COLLECTION].insert_one(withdrawal, session=session)
        return withdrawal

    return await client_requests.create_once(db, COLLECTION, client_request, work)


async def listing(db: Database, *, status: str | None, page: int, limit: int, user_id: str | None = None) -> dict[str, Any]:
    """The admins' queue, or (with `user_id`) one contractor's own requests."""
    return await requests.listing(db, COLLECTION, public, status=status, page=page, limit=limit, user_id=user_id)


async def approve(db: Database, request_id: str, admin_id: str, *, lease_seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Capture the hold and write the payout; the payout is leased to the caller, who makes the transfer next."""

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        withdrawal = await requests.resolve(db, session, COLLECTION, request_id, admin_id, {"status": "approved"}, WHAT)
        account_id = await _require_payouts_enabled(db, session, withdrawal["userId"])
        await ledger.post(
            db,
            session,
            key=f"withdrawal:{withdrawal['_id']}",
            type="withdrawal",
            entries=ledger.capture(withdrawal["userId"], withdrawal["amount"], ledger.STRIPE),
            refs={"userId": withdrawal["userId"], "requestId": withdrawal["_id"], "adminId": ObjectId(admin_id)},
        )
        await wallets.add_to_totals(db, session, withdrawal["userId"], totalWithdrawals=withdrawal["amount"])
        payout = await payouts.create(db, session, withdrawal, account_id, lease_seconds=lease_seconds)
        return withdrawal, payout

    return await db.transaction(work)


async def reject(db: Database, request_id: str, admin_id: str, reason: str) -> dict[str, Any]:
    async def work(session: AsyncClientSession) -> dict[str, Any]:
        withdrawal = await requests.resolve(db, session, COLLECTION, request_id, admin_id, {"status": "rejected", "reason": reason}, WHAT)
        await ledger.post(
            db,
            session,
            key=f"withdrawal-release:{withdrawal['_id']}",
            type="hold_release",
            entries=ledger.release(withdrawal["userId"], withdrawal["amount"]),
            refs={"userId": withdrawal["userId"], "requestId": withdrawal["_id"], "adminId": ObjectId(admin_id)},
        )
        return withdrawal

    return await db.transaction(work)


async def _require_verified_email(db: Database, session: AsyncClientSession, user_id: str) -> None:
    user = await db[users.COLLECTION].find_one({"_id": ObjectId(user_id)}, {"emailVerified": 1}, session=session)
    if not (user or {}).get("emailVerified"):
        raise AppError("email_not_verified", "Verify your email address before withdrawing.")


async def _require_payouts_enabled(db: Database, session: AsyncClientSession, user_id: str | ObjectId) -> str:
    connected = await payout_accounts.of_user(db, session, user_id)
    if not connected["payoutsEnabled"]:
        raise AppError("payouts_not_enabled", "Finish Stripe onboarding (payouts:onboard) before withdrawing.", {"status": connected["status"]})
    return connected["accountId"]
