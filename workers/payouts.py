"""Carrying out approved withdrawals: the Stripe transfer, its retries, and healing after a crash.

Every attempt for one payout sends the same idempotency key (`payout:<id>`), so Stripe
creates at most one transfer however often we ask. Before giving up on a payout (which
returns the money to the wallet) we look the transfer up by its `transfer_group`: if an
earlier attempt reached Stripe after all, the payout is marked paid instead.
"""

import logging
import random
from typing import Any

import stripe
from bson import ObjectId

from models import payouts
from server import pushes
from server.infra.stripe_api import is_transient

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_SECONDS = 3600


async def pay(services, payout_id: str) -> None:
    """Job: attempt a payout nobody else holds (a scheduled retry, or one found by `resume`)."""
    payout = await payouts.claim(services.db, ObjectId(payout_id), lease_seconds=services.settings.payout_lease_seconds)
    if payout is not None:
        await transfer(services, payout)


async def resume(services) -> None:
    """Job (periodic): pick up payouts whose attempt was cut short, e.g. by a crash after approval."""
    for payout_id in await payouts.due(services.db):
        await pay(services, str(payout_id))


async def transfer(services, payout: dict[str, Any]) -> dict[str, Any] | None:
    """Make the transfer for a payout the caller holds the lease on, and record what came of it.

    Returns the withdrawal request if the payout settled now (`paid` or `failed`), None
    while retries are pending.
    """
    try:
        transfer_id = await services.payments().transfer(
            payout_id=str(payout["_id"]),
            amount=payout["amount"],
            currency=payout["currency"],
            destination=payout["accountId"],
        )
    except stripe.StripeError as error:
        return await _after_failure(services, payout, error)
    return await _paid(services, payout, transfer_id)


async def _paid(services, payout: dict[str, Any], transfer_id: str) -> dict[str, Any] | None:
    request = await payouts.mark_paid(services.db, payout, transfer_id)
    if request is not None:
        await pushes.money.withdrawal_changed(services, request, balances_moved=False)
    return request


async def _after_failure(services, payout: dict[str, Any], error: stripe.StripeError) -> dict[str, Any] | None:
    """Retry later, or settle: paid if the transfer exists after all, else reverse the withdrawal."""
    attempts = payout["attempts"] + 1
    log.warning("payout attempt failed", extra={"payoutId": str(payout["_id"]), "attempt": attempts, "error": _describe(error)})
    if is_transient(error) and attempts < services.settings.payout_max_attempts:
        await _retry_later(services, payout, error, attempts)
        return None
    try:
        existing = await services.payments().find_transfer(payout_id=str(payout["_id"]))
    except stripe.StripeError as lookup_error:
        await _retry_later(services, payout, lookup_error, attempts)
        return None
    if existing is not None:
        return await _paid(services, payout, existing)
    request = await payouts.reverse(services.db, payout, _describe(error))
    if request is not None:
        await pushes.money.withdrawal_changed(services, request, balances_moved=True)
    return request


async def _retry_later(services, payout: dict[str, Any], error: stripe.StripeError, attempts: int) -> None:
    base = services.settings.payout_retry_seconds * 2 ** (attempts - 1)
    delay = min(base, MAX_RETRY_DELAY_SECONDS) * random.uniform(0.8, 1.2)
    await payouts.postpone(services.db, payout, _describe(error), delay)
    await services.jobs.enqueue_in(delay, pay, str(payout["_id"]))


def _describe(error: stripe.StripeError) -> str:
    return f"{type(error).__name__} ({error.http_status}): {error.user_message or error.code or 'no message'}"[:300]
