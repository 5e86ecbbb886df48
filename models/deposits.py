"""Wallet top-ups through Stripe Checkout: a pending record first, credited once when Stripe says paid.

The record exists before the Checkout Session so that the session can name it
(`metadata.depositId`) and the webhook can find it. Only a `pending` deposit can be
credited or failed, and the credit's ledger key is `deposit:<id>`, so duplicated or
reordered webhooks cannot credit twice.
"""

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import client_requests, clock, ledger
from models.client_requests import ClientRequest
from models.db import Database

COLLECTION = "deposits"
MIN_CENTS, MAX_CENTS = 100, 1_000_000


def public(deposit: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(deposit["_id"]),
        "amount": deposit["amount"],
        "currency": deposit["currency"],
        "status": deposit["status"],
        "sessionId": deposit.get("sessionId"),
        "createdAt": deposit["createdAt"].isoformat(),
    }


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index([("userId", 1), ("createdAt", -1)])
    await db[COLLECTION].create_index([("status", 1), ("createdAt", 1)])
    await client_requests.ensure_index(db, COLLECTION)


async def open_pending(db: Database, user_id: str, amount: int, request: ClientRequest | None = None) -> tuple[dict[str, Any], bool]:
    """`(deposit, created?)`: a retried request gets the deposit (and so the Checkout page) it opened the first time."""
    deposit = {
        "_id": ObjectId(),
        "userId": ObjectId(user_id),
        "amount": amount,
        "currency": ledger.CURRENCY,
        "status": "pending",
        "createdAt": clock.now(),
        **client_requests.stamp(request),
    }

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        await db[COLLECTION].insert_one(deposit, session=session)
        return deposit

    return await client_requests.create_once(db, COLLECTION, request, work)


async def attach_checkout(db: Database, deposit_id: ObjectId, session_id: str, url: str) -> None:
    """Kept with the deposit so that a retried `wallet:deposit` answers with the same Checkout page."""
    await db.transaction(
        lambda session: db[COLLECTION].update_one({"_id": deposit_id}, {"$set": {"sessionId": session_id, "checkoutUrl": url}}, session=session)
    )


async def credit(db: Database, session: AsyncClientSession, deposit_id: ObjectId, stripe_refs: dict[str, Any]) -> dict[str, Any] | None:
    """external:stripe → the user's wallet, for the amount we asked Stripe to charge; None if already settled."""
    deposit = await _settle(db, session, deposit_id, "completed", stripe_refs)
    if deposit is not None:
        await ledger.post(
            db,
            session,
            key=f"deposit:{deposit_id}",
            type="deposit",
            entries=[ledger.Entry(ledger.STRIPE, -deposit["amount"]), ledger.Entry(ledger.wallet(deposit["userId"]), deposit["amount"])],
            refs={"userId": deposit["userId"], "depositId": deposit_id, **stripe_refs},
        )
    return deposit


async def fail(db: Database, session: AsyncClientSession, deposit_id: ObjectId, stripe_refs: dict[str, Any]) -> dict[str, Any] | None:
    return await _settle(db, session, deposit_id, "failed", stripe_refs)


async def _settle(db: Database, session: AsyncClientSession, deposit_id: ObjectId, status: str, stripe_refs: dict[str, Any]) -> dict[str, Any] | None:
    return await db[COLLECTION].find_one_and_update(
        {"_id": deposit_id, "status": "pending"},
        {"$set": {"status": status, "settledAt": clock.now(), "stripe": stripe_refs}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )


async def awaiting_stripe(db: Database, *, created_before: datetime) -> list[dict[str, Any]]:
    """Pending deposits whose Checkout Session exists and is old enough that its webhook should have come."""
    query = {"status": "pending", "createdAt": {"$lte": created_before}, "sessionId": {"$ne": None}}
    return await db[COLLECTION].find(query).to_list()


async def never_started(db: Database, *, created_before: datetime) -> list[dict[str, Any]]:
    """Pending deposits with no Checkout Session: the server stopped between recording one and creating its session, so
    nobody got a page to pay on."""
    return await db[COLLECTION].find({"status": "pending", "createdAt": {"$lte": created_before}, "sessionId": None}).to_list()


async def settle(db: Database, deposit_id: ObjectId, *, paid: bool, stripe_refs: dict[str, Any]) -> dict[str, Any] | None:
    """Credit (paid) or fail the deposit in a transaction of its own: the same idempotent step as the webhook's."""
    return await db.transaction(lambda session: (credit if paid else fail)(db, session, deposit_id, stripe_refs))
