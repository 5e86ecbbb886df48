"""The ledger's invariants, driven through the model against the embedded engine over PyMongo."""

import asyncio

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient

from models import ledger
from models.audit import audit
from models.db import Database
from models.errors import AppError
from models.indexes import ensure_all
from server.infra.embedded_mongo import embedded_mongo


@pytest.fixture
async def db():
    async with embedded_mongo() as engine:
        client = AsyncMongoClient(engine.uri, tz_aware=True)
        database = Database(client, "ledger_test", serialize_writes=True)
        await ensure_all(database, login_failure_window_seconds=900)
        yield database
        await client.close()


async def funded_wallet(db: Database, cents: int) -> ObjectId:
    user_id = ObjectId()
    await db.transaction(lambda session: ledger.open_wallet(db, session, user_id))
    await db.transaction(
        lambda session: ledger.post(
            db,
            session,
            key=f"deposit:{user_id}",
            type="deposit",
            entries=[ledger.Entry(ledger.STRIPE, -cents), ledger.Entry(ledger.wallet(user_id), cents)],
        )
    )
    return user_id


async def account(db: Database, name: str) -> dict:
    return await db[ledger.ACCOUNTS].find_one({"_id": name})


async def test_concurrent_holds_never_overdraw_a_wallet(db):
    user_id = await funded_wallet(db, 10_000)

    async def spend(index: int) -> bool:
        try:
            await db.transaction(lambda session: ledger.post(db, session, key=f"hold:{index}", type="hold", entries=ledger.hold(user_id, 100)))
            return True
        except AppError as error:
            assert error.code == "insufficient_funds"
            return False

    outcomes = await asyncio.gather(*(spend(index) for index in range(200)))
    assert outcomes.count(True) == 100
    stored = await account(db, ledger.wallet(user_id))
    assert (stored["balance"], stored["held"]) == (0, 10_000)
    assert (await audit(db)).clean


async def test_replaying_a_key_returns_the_first_transaction_and_moves_nothing(db):
    user_id = await funded_wallet(db, 5_000)
    post = lambda session: ledger.post(db, session, key="hold:once", type="hold", entries=ledger.hold(user_id, 1_000))  # noqa: E731
    first = await db.transaction(post)
    again = await asyncio.gather(*(db.transaction(post) for _ in range(5)))
    assert {transaction["_id"] for transaction in again} == {first["_id"]}
    stored = await account(db, ledger.wallet(user_id))
    assert (stored["balance"], stored["held"]) == (4_000, 1_000)
    assert await db[ledger.TRANSACTIONS].count_documents({"idempotencyKey": "hold:once"}) == 1


async def test_hold_then_capture_or_release(db):
    user_id = await funded_wallet(db, 3_000)
    await db.transaction(lambda s: ledger.post(db, s, key="h1", type="hold", entries=ledger.hold(user_id, 1_000)))
    await db.transaction(lambda s: ledger.post(db, s, key="h2", type="hold", entries=ledger.hold(user_id, 500)))
    await db.transaction(lambda s: ledger.post(db, s, key="c1", type="wallet_transfer", entries=ledger.capture(user_id, 1_000, ledger.ESCROW)))
    await db.transaction(lambda s: ledger.post(db, s, key="r2", type="hold_release", entries=ledger.release(user_id, 500)))
    stored = await account(db, ledger.wallet(user_id))
    assert (stored["balance"], stored["held"]) == (2_000, 0)
    assert (await account(db, ledger.ESCROW))["balance"] == 1_000
    with pytest.raises(AppError, match="enough"):
        await db.transaction(lambda s: ledger.post(db, s, key="r3", type="hold_release", entries=ledger.release(user_id, 1)))
    assert (await audit(db)).clean


async def test_a_failed_entry_leaves_no_trace(db):
    user_id = await funded_wallet(db, 100)
    with pytest.raises(AppError):
        await db.transaction(lambda s: ledger.post(db, s, key="too-much", type="hold", entries=ledger.hold(user_id, 101)))
    assert await db[ledger.TRANSACTIONS].count_documents({"idempotencyKey": "too-much"}) == 0
    assert (await account(db, ledger.wallet(user_id)))["balance"] == 100


@pytest.mark.parametrize(
    "entries",
    [
        [ledger.Entry("a", 5), ledger.Entry("b", -4)],
        [ledger.Entry("a", 0), ledger.Entry("b", 0)],
        [ledger.Entry("a", 0)],
    ],
)
async def test_malformed_transactions_are_refused(db, entries):
    with pytest.raises(ValueError):
        await db.transaction(lambda s: ledger.post(db, s, key="bad", type="adjustment", entries=entries))


async def test_audit_catches_a_tampered_balance(db):
    user_id = await funded_wallet(db, 700)
    assert (await audit(db)).clean
    await db[ledger.ACCOUNTS].update_one({"_id": ledger.wallet(user_id)}, {"$inc": {"balance": 1}})
    report = await audit(db)
    assert not report.clean
    assert report.mismatched == [
        {"account": ledger.wallet(user_id), "stored": {"balance": 701, "held": 0}, "fromEntries": {"balance": 700, "held": 0}}
    ]
