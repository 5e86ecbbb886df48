"""What reconciling our books with Stripe finds that needs a person: items for the admins, and how far transfers were scanned.

A transfer made under our keys is ours when its `transfer_group` (or `metadata.payoutId`)
names a payout of ours. One that names no payout we know, or a payout we settled as failed
(its money went back to the wallet), means money left twice or without our books knowing:
that is reported once per transfer (`_id` `transfer:<id>`), never paid again or reversed by
the server, and left to an admin.
"""

from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from models import clock, payouts
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.pages import count, page_of

ITEMS = "reconciliation_items"
STATE = "reconciliation_state"
KINDS = ("unknown_transfer", "transfer_for_failed_payout", "unprocessable_event")
STATUSES = ("open", "resolved")


def public(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(item["_id"]), "kind": item["kind"], "status": item["status"], "transferId": item.get("transferId"),
        "payoutId": item.get("payoutId"), "eventId": item.get("eventId"), "eventType": item.get("eventType"),
        "amount": item.get("amount"), "currency": item.get("currency"), "destination": item.get("destination"),
        "detail": item["detail"], "note": item.get("note"), "createdAt": item["createdAt"].isoformat(),
        "resolvedAt": item["resolvedAt"].isoformat() if item.get("resolvedAt") else None,
    }  # fmt: skip


async def ensure_indexes(db: Database) -> None:
    await db[ITEMS].create_index([("status", 1), ("createdAt", -1)])


async def transfers_scanned_until(db: Database, *, lookback_seconds: float) -> datetime:
    """Where the last scan of Stripe's transfers ended (the first scan looks back `lookback_seconds`)."""
    state = await db[STATE].find_one({"_id": "transfers"})
    return state["until"] if state else clock.now() - timedelta(seconds=lookback_seconds)


async def scanned_transfers_until(db: Database, until: datetime) -> None:
    await db.transaction(lambda session: db[STATE].update_one({"_id": "transfers"}, {"$set": {"until": until}}, upsert=True, session=session))


async def check_transfer(db: Database, transfer: dict[str, Any]) -> dict[str, Any] | None:
    """The new item to report if this transfer disagrees with our payouts (None when it agrees or was reported before)."""
    payout_id = _payout_id(transfer)
    payout = await db[payouts.COLLECTION].find_one({"_id": payout_id}) if payout_id else None
    if payout is not None and payout["status"] != "failed":
        return None
    if payout is None:
        kind, detail = "unknown_transfer", "Stripe has a transfer made with our keys that no payout of ours accounts for."
    else:
        kind, detail = (
            "transfer_for_failed_payout",
            "Stripe has a transfer for a payout we settled as failed: its money was returned to the wallet too.",
        )
    item = {
        "_id": f"transfer:{transfer['id']}", "kind": kind, "status": "open", "transferId": transfer["id"],
        "payoutId": str(payout_id) if payout_id else None, "amount": transfer["amount"], "currency": transfer["currency"],
        "destination": transfer.get("destination"), "detail": detail, "createdAt": clock.now(),
    }  # fmt: skip
    try:
        await db.transaction(lambda session: db[ITEMS].insert_one(item, session=session))
    except DuplicateKeyError:
        return None
    return item


async def unprocessable_event(db: Database, session, event: dict[str, Any], reason: str) -> None:
    """A signed Stripe event of a type we act on, whose object we cannot read: kept for an admin (in the webhook's transaction)."""
    await db[ITEMS].update_one(
        {"_id": f"event:{event['id']}"},
        {"$setOnInsert": {
            "kind": "unprocessable_event", "status": "open", "eventId": event["id"], "eventType": event["type"],
            "detail": f"A signed Stripe event we act on could not be read: {reason}", "createdAt": clock.now(),
        }},
        upsert=True, session=session,
    )  # fmt: skip


def _payout_id(transfer: dict[str, Any]) -> ObjectId | None:
    group = transfer.get("transferGroup") or ""
    value = group.removeprefix("payout:") if group.startswith("payout:") else (transfer.get("metadata") or {}).get("payoutId", "")
    return ObjectId(value) if ObjectId.is_valid(value) else None


async def open_count(db: Database) -> int:
    return await count(db[ITEMS], {"status": "open"})


async def listing(db: Database, *, status: str | None, page: int, limit: int) -> dict[str, Any]:
    found, pagination = await page_of(db[ITEMS], {"status": status} if status else {}, sort=[("createdAt", -1), ("_id", -1)], page=page, limit=limit)
    return {"items": [public(item) for item in found], "pagination": pagination}


async def resolve(db: Database, item_id: str, admin_id: str, note: str) -> dict[str, Any]:
    """An admin looked into it (and settled it with Stripe or the user); `invalid_state` if someone already did."""
    resolved = await db.transaction(lambda session: db[ITEMS].find_one_and_update(
        {"_id": item_id, "status": "open"},
        {"$set": {"status": "resolved", "note": note, "resolvedAt": clock.now(), "resolvedBy": object_id(admin_id, "admin")}},
        return_document=ReturnDocument.AFTER, session=session,
    ))  # fmt: skip
    if resolved is None:
        current = await db[ITEMS].find_one({"_id": item_id}, {"status": 1})
        if current is None:
            raise AppError("not_found", "No such reconciliation item.")
        raise AppError("invalid_state", f"The item is already {current['status']}.", {"status": current["status"]})
    return resolved
