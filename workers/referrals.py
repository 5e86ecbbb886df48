"""Referral rewards that waited for an email verification the server did not see through (it stopped in between)."""

from models import referrals
from server import pushes


async def sweep(services) -> None:
    """Job (periodic): pay every qualified referral reward whose side is verified now."""
    await pushes.money.referral_rewarded(services, await referrals.sweep(services.db, services.settings.referrals))
