"""The double-entry ledger: every cent that moves is one transaction whose entries sum to zero.

Accounts have two buckets, `available` (stored as `balance`) and `held`. A transaction
is written in the caller's MongoDB transaction together with the balance changes and
the business state it belongs to, under a unique idempotency key: posting the same key
again changes nothing and returns the first transaction. Balances of user wallets and
platform accounts never go below zero; the update itself carries that condition, so two
concurrent spends cannot both pass a stale read. Only `MAY_GO_NEGATIVE` accounts go
negative: `external:stripe` mirrors money that entered the system from outside, and
`platform:marketing` pays referral rewards.

A frozen account can still receive, and a hold on it can still be released, but it cannot
spend: no entry may take from its available bucket and no transaction may move money
out of it. That condition also rides on the update itself.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from models import client_requests, clock
from models.db import Database
from models.errors import AppError

ACCOUNTS = "ledger_accounts"
TRANSACTIONS = "ledger_transactions"
CURRENCY = "usd"
ESCROW, REVENUE, STRIPE, MARKETING = "platform:escrow", "platform:revenue", "external:stripe", "platform:marketing"
PLATFORM_ACCOUNTS = (ESCROW, REVENUE, STRIPE, MARKETING)
MAY_GO_NEGATIVE = frozenset({STRIPE, MARKETING})
"""`external:stripe` mirrors money that came in from outside; `platform:marketing` is what the platform spends on growth
(referral rewards) and is settled outside the ledger."""
BUCKET_FIELDS = {"available": "balance", "held": "held"}
TYPES = frozenset(
    {
        "deposit",
        "hold",
        "hold_release",
        "wallet_transfer",
        "contractor_payout",
        "refund",
        "withdrawal",
        "withdrawal_reversal",
        "adjustment",
        "boost_purchase",
        "referral_reward",
    }
)


@dataclass(frozen=True, slots=True)
class Entry:
    account: str
    amount: int
    bucket: str = "available"


def wallet(user_id: str | ObjectId) -> str:
    return f"wallet:{user_id}"


async def ensure_indexes(db: Database) -> None:
    await db[TRANSACTIONS].create_index("idempotencyKey", unique=True)
    await db[TRANSACTIONS].create_index([("accounts", 1), ("createdAt", -1)])
    await client_requests.ensure_index(db, TRANSACTIONS)


async def ensure_platform_accounts(db: Database) -> None:
    for account in PLATFORM_ACCOUNTS:
        await db[ACCOUNTS].update_one(
            {"_id": account},
            {"$setOnInsert": _new_account(kind=account.split(":")[0])},
            upsert=True,
        )


async def open_wallet(db: Database, session: AsyncClientSession, user_id: ObjectId) -> None:
    await db[ACCOUNTS].insert_one({"_id": wallet(user_id), **_new_account(kind="wallet")}, session=session)


async def post(
    db: Database,
    session: AsyncClientSession,
    *,
    key: str,
    type: str,
    entries: list[Entry],
    refs: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record one transaction and apply its entries, or return the one already under `key`. `extra` fields are stored with it."""
    if type not in TYPES:
        raise ValueError(f"unknown transaction type {type!r}")
    if sum(entry.amount for entry in entries) != 0 or len(entries) < 2 or any(entry.amount == 0 for entry in entries):
        raise ValueError("entries must be two or more non-zero amounts that sum to zero")
    existing = await db[TRANSACTIONS].find_one({"idempotencyKey": key}, session=session)
    if existing is not None:
        return existing
    transaction = {
        "_id": ObjectId(),
        "idempotencyKey": key,
        "type": type,
        "currency": CURRENCY,
        "entries": [{"account": entry.account, "bucket": entry.bucket, "amount": entry.amount} for entry in entries],
        "accounts": sorted({entry.account for entry in entries}),
        "refs": refs or {},
        "createdAt": clock.now(),
        **(extra or {}),
    }
    await db[TRANSACTIONS].insert_one(transaction, session=session)
    spending = _spending_accounts(entries)
    for entry in entries:
        await _apply(db, session, entry, spends=entry.amount < 0 and entry.account in spending)
    return transaction


def _spending_accounts(entries: list[Entry]) -> set[str]:
    """Accounts the transaction takes spendable money from: a debit of `available`, or a net outflow."""
    net = Counter()
    for entry in entries:
        net[entry.account] += entry.amount
    return {account for account, amount in net.items() if amount < 0} | {
        entry.account for entry in entries if entry.bucket == "available" and entry.amount < 0
    }


async def _apply(db: Database, session: AsyncClientSession, entry: Entry, *, spends: bool) -> None:
    field = BUCKET_FIELDS[entry.bucket]
    condition = {} if entry.amount > 0 or entry.account in MAY_GO_NEGATIVE else {field: {"$gte": -entry.amount}}
    if spends:
        condition["frozen"] = {"$ne": True}
    changed = await db[ACCOUNTS].update_one({"_id": entry.account, **condition}, {"$inc": {field: entry.amount}}, session=session)
    if changed.matched_count == 0:
        stored = await db[ACCOUNTS].find_one({"_id": entry.account}, {"frozen": 1}, session=session)
        if stored is None:
            raise AppError("not_found", "No such wallet.")
        if spends and stored.get("frozen"):
            raise AppError("wallet_frozen", "This wallet is frozen: it can receive money but not spend or withdraw it.")
        raise AppError("insufficient_funds", "The wallet does not hold enough money for this.", {"account": entry.account})


def _new_account(*, kind: str) -> dict[str, Any]:
    return {"kind": kind, "currency": CURRENCY, "balance": 0, "held": 0, "frozen": False, "createdAt": clock.now()}


async def set_frozen(db: Database, session: AsyncClientSession, user_id: str | ObjectId, frozen: bool, reason: str) -> dict[str, Any]:
    account = await db[ACCOUNTS].find_one_and_update(
        {"_id": wallet(user_id)},
        {"$set": {"frozen": frozen, "frozenReason": reason if frozen else None}},
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    if account is None:
        raise AppError("not_found", "No such wallet.")
    return account


def hold(user_id: str | ObjectId, amount: int) -> list[Entry]:
    """Available → held on one wallet: the money stays the user's but cannot be spent twice."""
    return [Entry(wallet(user_id), -amount, "available"), Entry(wallet(user_id), amount, "held")]


def release(user_id: str | ObjectId, amount: int) -> list[Entry]:
    return [Entry(wallet(user_id), -amount, "held"), Entry(wallet(user_id), amount, "available")]


def capture(user_id: str | ObjectId, amount: int, destination: str) -> list[Entry]:
    return [Entry(wallet(user_id), -amount, "held"), Entry(destination, amount, "available")]
