"""Every job by name, and the periodic ones with their intervals: the single list both runners use."""

from collections.abc import Awaitable, Callable

from server.config import Settings
from workers import offers, payouts

JOBS: dict[str, Callable[..., Awaitable[None]]] = {
    "pay_payout": payouts.pay,
    "resume_payouts": payouts.resume,
    "expire_offer": offers.expire,
    "expire_offers": offers.sweep,
}


def periodic(settings: Settings) -> dict[str, float]:
    """Job name → interval in seconds; each also runs once at start, to pick up what a crash left."""
    return {"resume_payouts": settings.payout_resume_seconds, "expire_offers": settings.expiry_sweep_seconds}
