"""Every index the domain relies on, and the platform accounts, created at start-up (idempotent)."""

from models import (
    applications,
    boosts,
    chat_messages,
    chat_rooms,
    completions,
    deposits,
    email_tokens,
    ledger,
    login_limits,
    notifications,
    offers,
    payout_accounts,
    payouts,
    reconciliation,
    refresh_tokens,
    sessions,
    tasks,
    users,
    withdrawals,
)
from models.db import Database


async def ensure_all(db: Database, *, login_failure_window_seconds: int) -> None:
    """What a database needs before use: the indexes, then the data steps (`prepare_data`)."""
    await create_indexes(db, login_failure_window_seconds=login_failure_window_seconds)
    await prepare_data(db)


async def prepare_data(db: Database) -> None:
    """Once the data is there (embedded: after the snapshot and journal are loaded): the platform's ledger accounts, and
    fields that data stored by an earlier version lacks."""
    await ledger.ensure_platform_accounts(db)
    await users.backfill(db)
    await tasks.backfill(db)


async def create_indexes(db: Database, *, login_failure_window_seconds: int) -> None:
    await login_limits.ensure_indexes(db, login_failure_window_seconds)
    for module in (
        users,
        sessions,
        email_tokens,
        refresh_tokens,
        ledger,
        deposits,
        payout_accounts,
        withdrawals,
        payouts,
        reconciliation,
        tasks,
        applications,
        boosts,
        offers,
        completions,
        notifications,
        chat_rooms,
        chat_messages,
    ):
        await module.ensure_indexes(db)
