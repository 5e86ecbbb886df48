"""Payout records: the Stripe transfer still owed for an approved withdrawal.

A payout is `pending` until its transfer is known to exist (`paid`) or is known not to
exist and never will (`failed`, with the ledger reversed). Whoever makes the transfer
first takes a lease on the record, so the inline attempt, a retry job and the resume
sweep never call Stripe for one payout at the same time; the transfer's idempotency key
`payout:<id>` makes even an overlapping call harmless.
"""

from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock, ledger, wallets
from models.db import Database

COLLECTION = "payouts"
REQUESTS = "withdrawal_requests"


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index([("status", 1), ("nextAttemptAt", 1)])


async def create(db: Database, session: AsyncClientSession, withdrawal: dict[str, Any], account_id: str, *, lease_seconds: float) -> dict[str, Any]:
    now = clock.now()
    payout = {
        "_id": ObjectId(),
        "requestId": withdrawal["_id"],
        "userId": withdrawal["userId"],
        "accountId": account_id,
        "amount": withdrawal["amount"],
        "currency": withdrawal["currency"],
        "status": "pending",
        "attempts": 0,
        "nextAttemptAt": now,
        "leaseUntil": now + timedelta(seconds=lease_seconds),
        "createdAt": now,
    }
    await db[COLLECTION].insert_one(payout, session=session)
    await db[REQUESTS].update_one({"_id": withdrawal["_id"]}, {"$set": {"payoutId": payout["_id"]}}, session=session)
    return payout


async def claim(db: Database, payout_id: ObjectId, *, lease_seconds: float) -> dict[str, Any] | None:
    """Take the lease on a pending payout whose previous lease ran out; None if it is settled or taken."""
    now = clock.now()
    return await db.transaction(
        lambda session: db[COLLECTION].find_one_and_update(
            {"_id": payout_id, "status": "pending", "leaseUntil": {"$lte": now}},
            {"$set": {"leaseUntil": now + timedelta(seconds=lease_seconds)}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
    )


async def due(db: Database) -> list[ObjectId]:
    """Pending payouts nobody is working on whose next attempt is due (e.g. after a crash mid-transfer)."""
    now = clock.now()
    found = db[COLLECTION].find({"status": "pending", "nextAttemptAt": {"$lte": now}, "leaseUntil": {"$lte": now}}, {"_id": 1})
    return [payout["_id"] async for payout in found]


async def postpone(db: Database, payout: dict[str, Any], error: str, delay_seconds: float) -> None:
    """Count the failed attempt and give the lease back, due again after the delay."""
    when = clock.now() + timedelta(seconds=delay_seconds)
    await db.transaction(
        lambda session: db[COLLECTION].update_one(
            {"_id": payout["_id"], "status": "pending"},
            {"$inc": {"attempts": 1}, "$set": {"lastError": error, "nextAttemptAt": when, "leaseUntil": when}},
            session=session,
        )
    )


async def mark_paid(db: Database, payout: dict[str, Any], transfer_id: str) -> dict[str, Any] | None:
    """The withdrawal request after it became `paid`, or None if the payout was already settled."""

    async def work(session: AsyncClientSession) -> dict[str, Any] | None:
        if not await _settle(db, session, payout, {"status": "paid", "transferId": transfer_id, "paidAt": clock.now()}):
            return None
        return await db[REQUESTS].find_one_and_update(
            {"_id": payout["requestId"]},
            {"$set": {"status": "paid", "transferId": transfer_id}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )

    return await db.transaction(work)


async def reverse(db: Database, payout: dict[str, Any], error: str) -> dict[str, Any] | None:
    """No transfer will happen: the money goes back to the wallet (`withdrawal_reversal`); None if already settled."""

    async def work(session: AsyncClientSession) -> dict[str, Any] | None:
        if not await _settle(db, session, payout, {"status": "failed", "lastError": error, "failedAt": clock.now()}):
            return None
        await ledger.post(
            db,
            session,
            key=f"withdrawal-reversal:{payout['requestId']}",
            type="withdrawal_reversal",
            entries=[ledger.Entry(ledger.STRIPE, -payout["amount"]), ledger.Entry(ledger.wallet(payout["userId"]), payout["amount"])],
            refs={"userId": payout["userId"], "requestId": payout["requestId"], "payoutId": payout["_id"]},
        )
        await wallets.add_to_totals(db, session, payout["userId"], totalWithdrawals=-payout["amount"])
        return await db[REQUESTS].find_one_and_update(
            {"_id": payout["requestId"]},
            {"$set": {"status": "failed", "reason": "The bank transfer failed; the money is back in your wallet."}},
            return_document=ReturnDocument.AFTER,
            session=session,
        )

    return await db.transaction(work)


async def _settle(db: Database, session: AsyncClientSession, payout: dict[str, Any], changes: dict[str, Any]) -> bool:
    """A payout leaves `pending` once; False when someone settled it first."""
    settled = await db[COLLECTION].update_one({"_id": payout["_id"], "status": "pending"}, {"$set": changes}, session=session)
    return settled.modified_count == 1
