"""Priced offers from a task's owner to an applicant, backed by a hold on the customer's wallet.

Sending holds `totalCharge`. The offer then leaves `pending` exactly once, by a
conditional update: `accepted` (the hold is captured into `platform:escrow` and the task
is assigned), `rejected` or `cancelled` (the hold is released and the task takes offers
again), or `expired` (the same, once `expiresAt` has passed). So an accept racing a
cancel or an expiry has one winner, and the other side gets `invalid_state`.
"""

from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import applications, chat_rooms, client_requests, clock, fees, ledger, tasks
from models.client_requests import ClientRequest
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.plans import PlanPolicy

COLLECTION = "offers"
STATUSES = ("pending", "accepted", "rejected", "cancelled", "expired", "completed", "refunded")


def public(offer: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(offer["_id"]),
        "taskId": str(offer["taskId"]),
        "applicationId": str(offer["applicationId"]),
        "customerId": str(offer["customerId"]),
        "contractorId": str(offer["contractorId"]),
        **{
            field: offer[field]
            for field in ("amount", "platformFee", "serviceFee", "contractorPayout", "totalCharge", "currency", "timeline", "description", "status")
        },
        "reason": offer.get("reason"),
        "expiresAt": offer["expiresAt"].isoformat(),
        "createdAt": offer["createdAt"].isoformat(),
    }


def parties(offer: dict[str, Any]) -> list[str]:
    return [str(offer["customerId"]), str(offer["contractorId"])]


async def ensure_indexes(db: Database) -> None:
    await db[COLLECTION].create_index([("status", 1), ("expiresAt", 1)])
    await db[COLLECTION].create_index("taskId")
    await client_requests.ensure_index(db, COLLECTION)


async def send(
    db: Database,
    customer_id: str,
    application_id: str,
    *,
    amount: int,
    timeline: str,
    description: str,
    policy: fees.FeePolicy,
    ttl_seconds: float,
    request: ClientRequest | None = None,
    plan_policy: PlanPolicy | None = None,
) -> tuple[dict[str, Any], bool]:
    """`(offer, created?)`: a retried request gets the offer it made, and nothing is held twice.

    `plan_limit` when accepting it would take either side past its plan's trade partners.
    """
    offer_id = ObjectId()

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        application = await applications.get(db, session, application_id)
        task = await tasks.get(db, session, application["taskId"])
        if str(task["ownerId"]) != customer_id:
            raise AppError("forbidden", "Only the task's owner may send offers.")
        if task["pendingOfferId"] is not None:
            raise AppError("invalid_state", "The task already has a pending offer; cancel it first.", {"status": task["status"]})
        if application["status"] != "pending":
            raise AppError("invalid_state", f"The application is {application['status']}.", {"status": application["status"]})
        if plan_policy is not None:
            await tasks.require_partner_room(db, session, task["ownerId"], application["contractorId"], plan_policy)
        await tasks.move(db, session, task["_id"], allowed=("open",), extra={"pendingOfferId": None}, changes={"pendingOfferId": offer_id})
        quote = fees.quote(amount, policy)
        await ledger.post(
            db,
            session,
            key=f"offer-hold:{offer_id}",
            type="hold",
            entries=ledger.hold(customer_id, quote["totalCharge"]),
            refs={"userId": task["ownerId"], "taskId": task["_id"], "offerId": offer_id},
        )
        now = clock.now()
        offer = {
            "_id": offer_id,
            "taskId": task["_id"],
            "applicationId": application["_id"],
            "customerId": task["ownerId"],
            "contractorId": application["contractorId"],
            **quote,
            "currency": ledger.CURRENCY,
            "timeline": timeline,
            "description": description,
            "status": "pending",
            "expiresAt": now + timedelta(seconds=ttl_seconds),
            "createdAt": now,
            **client_requests.stamp(request),
        }
        await db[COLLECTION].insert_one(offer, session=session)
        await applications.set_status(db, session, application["_id"], "offered")
        return offer

    return await client_requests.create_once(db, COLLECTION, request, work)


async def accept(
    db: Database, offer_id: str, contractor_id: str, plan_policy: PlanPolicy | None = None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """`(offer, task, room)` after the hold moved into escrow and the task was assigned (or started, with `autoStart`);
    `room` is the task's chat room when it was made now. `plan_limit` when either side has no room for a new partner."""

    async def work(session: AsyncClientSession) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
        offer = await _leave_pending(db, session, offer_id, "accepted", {"contractorId": ObjectId(contractor_id), "expiresAt": {"$gt": clock.now()}})
        if plan_policy is not None:
            await tasks.require_partner_room(db, session, offer["customerId"], offer["contractorId"], plan_policy)
        await ledger.post(
            db,
            session,
            key=f"offer-capture:{offer['_id']}",
            type="wallet_transfer",
            entries=ledger.capture(offer["customerId"], offer["totalCharge"], ledger.ESCROW),
            refs={"userId": offer["customerId"], "taskId": offer["taskId"], "offerId": offer["_id"]},
        )
        task = await tasks.get(db, session, offer["taskId"])
        task = await tasks.move(
            db,
            session,
            task["_id"],
            allowed=("open",),
            extra={"pendingOfferId": offer["_id"]},
            changes={
                "status": "in_progress" if task["autoStart"] else "assigned",
                "contractorId": offer["contractorId"],
                "offerId": offer["_id"],
                "pendingOfferId": None,
            },
        )
        await applications.set_status(db, session, offer["applicationId"], "accepted")
        await applications.close_others(db, session, task["_id"], offer["applicationId"])
        room = await chat_rooms.open_for_task(db, session, task)
        return offer, task, room

    return await db.transaction(work)


async def reject(db: Database, offer_id: str, contractor_id: str, reason: str) -> dict[str, Any]:
    return await db.transaction(
        lambda session: withdraw(
            db,
            session,
            offer_id,
            "rejected",
            {"contractorId": ObjectId(contractor_id)},
            reason=reason,
            application_status="rejected",
        )
    )


async def cancel(db: Database, offer_id: str, customer_id: str) -> dict[str, Any]:
    return await db.transaction(lambda session: withdraw(db, session, offer_id, "cancelled", {"customerId": ObjectId(customer_id)}))


async def expire(db: Database, offer_id: str | ObjectId) -> dict[str, Any] | None:
    """The expired offer, or None if it was no longer pending or not yet due (safe to run twice)."""
    try:
        return await db.transaction(lambda session: withdraw(db, session, offer_id, "expired", {"expiresAt": {"$lte": clock.now()}}))
    except AppError:
        return None


async def due_for_expiry(db: Database) -> list[ObjectId]:
    return [offer["_id"] async for offer in db[COLLECTION].find({"status": "pending", "expiresAt": {"$lte": clock.now()}}, {"_id": 1})]


async def withdraw(
    db: Database,
    session: AsyncClientSession,
    offer_id: str | ObjectId,
    status: str,
    condition: dict[str, Any],
    *,
    reason: str | None = None,
    application_status: str = "pending",
) -> dict[str, Any]:
    """Take a pending offer off the table: release its hold and let the task take offers again."""
    offer = await _leave_pending(db, session, offer_id, status, condition, reason=reason)
    await ledger.post(
        db,
        session,
        key=f"offer-release:{offer['_id']}",
        type="hold_release",
        entries=ledger.release(offer["customerId"], offer["totalCharge"]),
        refs={"userId": offer["customerId"], "taskId": offer["taskId"], "offerId": offer["_id"]},
    )
    await db[tasks.COLLECTION].update_one(
        {"_id": offer["taskId"], "pendingOfferId": offer["_id"]},
        {"$set": {"pendingOfferId": None, "updatedAt": clock.now()}},
        session=session,
    )
    await applications.set_status(db, session, offer["applicationId"], application_status)
    return offer


async def settle(db: Database, session: AsyncClientSession, offer_id: ObjectId, status: str) -> dict[str, Any]:
    """An accepted offer's end: `completed` (paid out) or `refunded` (task cancelled)."""
    offer = await db[COLLECTION].find_one_and_update(
        {"_id": offer_id, "status": "accepted"},
        {"$set": {"status": status}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if offer is None:
        raise AppError("invalid_state", "The task's offer is no longer accepted.")
    return offer


async def _leave_pending(
    db: Database, session: AsyncClientSession, offer_id: str | ObjectId, status: str, condition: dict[str, Any], *, reason: str | None = None
) -> dict[str, Any]:
    key = object_id(offer_id, "offer")
    offer = await db[COLLECTION].find_one_and_update(
        {"_id": key, "status": "pending", **condition},
        {"$set": {"status": status, "reason": reason, "settledAt": clock.now()}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if offer is not None:
        return offer
    current = await db[COLLECTION].find_one({"_id": key}, session=session)
    if current is None:
        raise AppError("not_found", "No such offer.")
    for party in ("contractorId", "customerId"):
        if party in condition and current[party] != condition[party]:
            raise AppError("forbidden", "This offer is not yours to answer." if party == "contractorId" else "Only the sender may cancel an offer.")
    if current["status"] == "pending":
        raise AppError("invalid_state", "The offer has expired.", {"status": "expired"})
    raise AppError("invalid_state", f"The offer is already {current['status']}.", {"status": current["status"]})
