"""Ending offers nobody answered: one job per offer at its `expiresAt`, and a sweep for any it missed."""

from models import offers
from server import pushes


async def expire(services, offer_id: str) -> None:
    """Job: expire one offer if it is still pending and due; otherwise nothing (it was answered, or already expired)."""
    offer = await offers.expire(services.db, offer_id)
    if offer is not None:
        await pushes.tasks.offer_updated(services, offer)
        await pushes.money.wallet_changed(services, offer["customerId"])


async def sweep(services) -> None:
    """Job (periodic): expire every pending offer past its `expiresAt`."""
    for offer_id in await offers.due_for_expiry(services.db):
        await expire(services, str(offer_id))
