"""Every index the domain relies on, created at start-up (idempotent)."""

from models import deposits, ledger, login_limits, payout_accounts, payouts, refresh_tokens, users, withdrawals
from models.db import Database


async def ensure_all(db: Database, *, login_failure_window_seconds: int) -> None:
    await users.ensure_indexes(db)
    await refresh_tokens.ensure_indexes(db)
    await login_limits.ensure_indexes(db, login_failure_window_seconds)
    await ledger.ensure_indexes(db)
    await deposits.ensure_indexes(db)
    await payout_accounts.ensure_indexes(db)
    await withdrawals.ensure_indexes(db)
    await payouts.ensure_indexes(db)
    await deposits.ensure_indexes(db)
    await payout_accounts.ensure_indexes(db)
    await withdrawals.ensure_indexes(db)
    await payouts.ensure_indexes(db)
