"""A user's wallet as the apps see it: balances, running totals, frozen flag and payout status.

Balances live on the wallet's ledger account; the running totals (`totalEarnings`,
`totalSpent`, `totalWithdrawals`) sit beside them and are bumped in the same MongoDB
transaction as the ledger entries they summarise.
"""

from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from models import client_requests, ledger, roles, users
from models.client_requests import ClientRequest
from models.db import Database
from models.errors import AppError
from models.ids import object_id
from models.pages import page_of
from models.sessions import SessionsEnded

TOTALS = ("totalEarnings", "totalSpent", "totalWithdrawals")


async def summary(db: Database, session: AsyncClientSession | None, user_id: str | ObjectId) -> dict[str, Any]:
    account = await db[ledger.ACCOUNTS].find_one({"_id": ledger.wallet(user_id)}, session=session)
    user = await db[users.COLLECTION].find_one({"_id": object_id(user_id, "wallet")}, {"payouts.status": 1}, session=session)
    if account is None or user is None:
        raise AppError("not_found", "No such wallet.")
    return {
        "balance": account["balance"],
        "held": account["held"],
        "currency": account["currency"],
        **{total: account.get(total, 0) for total in TOTALS},
        "isFrozen": account["frozen"],
        "payoutsStatus": user.get("payouts", {}).get("status", "not_connected"),
    }


async def add_to_totals(db: Database, session: AsyncClientSession, user_id: str | ObjectId, **increments: int) -> None:
    if unknown := set(increments) - set(TOTALS):
        raise ValueError(f"unknown wallet totals {unknown}")
    await db[ledger.ACCOUNTS].update_one({"_id": ledger.wallet(user_id)}, {"$inc": increments}, session=session)


async def freeze(db: Database, user_id: str, frozen: bool, reason: str) -> SessionsEnded | None:
    """Freeze (or unfreeze) the wallet; the flag is mirrored on the user, where sign-in checks read it.

    Freezing an admin suspends their admin rights at once: the effect returned ends their live
    sockets, and `Accounts.authenticate` refuses their tokens while the freeze lasts.
    """
    key = object_id(user_id, "wallet")

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        await ledger.set_frozen(db, session, key, frozen, reason)
        return await db[users.COLLECTION].find_one_and_update({"_id": key}, {"$set": {"frozen": frozen}}, {"role": 1}, session=session)

    user = await db.transaction(work)
    if frozen and user is not None and roles.is_admin(user["role"]):
        return SessionsEnded("suspended", user_ids=(str(key),))
    return None


async def adjust(
    db: Database, user_id: str, amount: int, *, reason: str, admin_id: str, request: ClientRequest | None = None
) -> tuple[dict[str, Any], bool]:
    """An admin's correction or goodwill credit (negative: a debit), booked against `external:stripe`; `(transaction, booked now?)`.

    The counterpart is the outside world because such money enters (or leaves) the
    platform's Stripe balance, not any user's. A retried request is booked once.
    """
    wallet = ledger.wallet(object_id(user_id, "wallet"))

    async def work(session: AsyncClientSession) -> dict[str, Any]:
        return await ledger.post(
            db,
            session,
            key=f"adjustment:{ObjectId()}",
            type="adjustment",
            entries=[ledger.Entry(ledger.STRIPE, -amount), ledger.Entry(wallet, amount)],
            refs={"userId": ObjectId(user_id), "adminId": ObjectId(admin_id), "reason": reason},
            extra=client_requests.stamp(request),
        )

    return await client_requests.create_once(db, ledger.TRANSACTIONS, request, work)


async def transactions(db: Database, user_id: str, *, page: int, limit: int) -> dict[str, Any]:
    """The caller's side of each transaction: the net change to their wallet, newest first."""
    account = ledger.wallet(user_id)
    found, pagination = await page_of(
        db[ledger.TRANSACTIONS],
        {"accounts": account},
        sort=[("createdAt", -1), ("_id", -1)],
        page=page,
        limit=limit,
    )
    return {"transactions": [_as_seen_by(account, transaction) for transaction in found], "pagination": pagination}


def _as_seen_by(account: str, transaction: dict[str, Any]) -> dict[str, Any]:
    mine = [entry for entry in transaction["entries"] if entry["account"] == account]
    return {
        "id": str(transaction["_id"]),
        "type": transaction["type"],
        "currency": transaction["currency"],
        "availableChange": sum(entry["amount"] for entry in mine if entry["bucket"] == "available"),
        "heldChange": sum(entry["amount"] for entry in mine if entry["bucket"] == "held"),
        "refs": {name: str(value) for name, value in transaction["refs"].items()},
        "createdAt": transaction["createdAt"].isoformat(),
    }
