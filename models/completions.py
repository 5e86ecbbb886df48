"""Delivering work and getting paid: submission, the owner's completion request, an admin's decision.

Approval is one MongoDB transaction: the request leaves `pending` (one admin wins), task and
offer become `completed`, and escrow pays out: `contractorPayout` to the contractor's
wallet and `platformFee + serviceFee` to `platform:revenue` (a `contractor_payout`). Both
sides' `completedTasks` grow, and a referred side's first completion pays the referral
rewards (`models/referrals.py`).
"""

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import clock, files, ledger, offers, referrals, requests, tasks, users, wallets
from models.db import Database
from models.referrals import ReferralPolicy, Rewarded

COLLECTION = "completion_requests"
STATUSES = ("pending", "approved", "rejected", "cancelled")
WHAT = "completion request"


def public(request: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(request["_id"]),
        "taskId": str(request["taskId"]),
        "offerId": str(request["offerId"]),
        "customerId": str(request["customerId"]),
        "contractorId": str(request["contractorId"]),
        "amount": request["amount"],
        "contractorPayout": request["contractorPayout"],
        "currency": request["currency"],
        "status": request["status"],
        "reason": request.get("reason"),
        "createdAt": request["createdAt"].isoformat(),
        "resolvedAt": request["resolvedAt"].isoformat() if request.get("resolvedAt") else None,
    }


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index([("status", 1), ("createdAt", -1)])
    await db[COLLECTION].create_index("taskId")


async def submit(db: Database, task_id: str, contractor_id: str, note: str, file_ids: list[str]) -> dict[str, Any]:
    """Only the assigned contractor, only `in_progress` (again after a rejected completion), only their own uploads."""

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        attached = await files.owned_by(db, session, file_ids, contractor_id)
        return await tasks.move(
            db,
            session,
            task_id,
            allowed=("in_progress",),
            contractor_id=contractor_id,
            changes={
                "status": "submitted",
                "submission": {"note": note, "fileIds": attached, "submittedAt": clock.now()},
            },
        )

    return await db.transaction(work)


async def request(db: Database, task_id: str, owner_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(request, task)`: the owner is satisfied; an admin approves the payout."""

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        task = await tasks.move(db, session, task_id, allowed=("submitted",), owner_id=owner_id, changes={"status": "completion_requested"})
        offer = await db[offers.COLLECTION].find_one({"_id": task["offerId"]}, session=session)
        completion = {
            "_id": ObjectId(),
            "taskId": task["_id"],
            "offerId": offer["_id"],
            "customerId": task["ownerId"],
            "contractorId": task["contractorId"],
            "amount": offer["amount"],
            "contractorPayout": offer["contractorPayout"],
            "currency": offer["currency"],
            "status": "pending",
            "createdAt": clock.now(),
        }
        await db[COLLECTION].insert_one(completion, session=session)
        return completion, task

    return await db.transaction(work)


async def listing(db: Database, *, status: str | None, page: int, limit: int) -> dict[str, Any]:
    return await requests.listing(db, COLLECTION, public, status=status, page=page, limit=limit)


async def approve(
    db: Database, request_id: str, admin_id: str, referral_policy: ReferralPolicy
) -> tuple[dict[str, Any], dict[str, Any], list[Rewarded]]:
    """`(request, task, referral rewards paid)`: a referred side's first completed task rewards them and their referrer."""

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any], list[Rewarded]]:
        completion = await requests.resolve(db, session, COLLECTION, request_id, admin_id, {"status": "approved"}, WHAT)
        task = await tasks.move(db, session, completion["taskId"], allowed=("completion_requested",), changes={"status": "completed"})
        offer = await offers.settle(db, session, completion["offerId"], "completed")
        await ledger.post(
            db,
            session,
            key=f"offer-payout:{offer['_id']}",
            type="contractor_payout",
            entries=[
                ledger.Entry(ledger.ESCROW, -offer["totalCharge"]),
                ledger.Entry(ledger.wallet(offer["contractorId"]), offer["contractorPayout"]),
                ledger.Entry(ledger.REVENUE, offer["platformFee"] + offer["serviceFee"]),
            ],
            refs={
                "userId": offer["contractorId"],
                "taskId": task["_id"],
                "offerId": offer["_id"],
                "requestId": completion["_id"],
                "adminId": ObjectId(admin_id),
            },
        )
        await wallets.add_to_totals(db, session, offer["contractorId"], totalEarnings=offer["contractorPayout"])
        await wallets.add_to_totals(db, session, offer["customerId"], totalSpent=offer["totalCharge"])
        for user_id in (task["ownerId"], task["contractorId"]):  # one by one: the embedded engine scans for `_id: {$in}`
            await db[users.COLLECTION].update_one({"_id": user_id}, {"$inc": {"completedTasks": 1}}, session=session)
        return completion, task, await referrals.on_completed(db, session, task, referral_policy)

    return await db.transaction(work)


async def reject(db: Database, request_id: str, admin_id: str, reason: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Back to `in_progress` with the reason, so the contractor can fix and submit again."""

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any]]:
        completion = await requests.resolve(db, session, COLLECTION, request_id, admin_id, {"status": "rejected", "reason": reason}, WHAT)
        task = await tasks.move(
            db, session, completion["taskId"], allowed=("completion_requested",), changes={"status": "in_progress", "rejectionReason": reason}
        )
        return completion, task

    return await db.transaction(work)


async def cancel_pending(db: Database, session: AsyncClientSession, task_id: ObjectId) -> dict[str, Any] | None:
    """A task cancelled while awaiting approval takes its request out of the queue."""
    return await db[COLLECTION].find_one_and_update(
        {"taskId": task_id, "status": "pending"},
        {"$set": {"status": "cancelled", "resolvedAt": clock.now()}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
