"""Referrals: your code and link, and what they brought you."""

from models import referrals
from server.gateway.dispatch import EventContext
from server.gateway.events import NoPayload, event
from server.gateway.shapes import ReferralSummary


@event("referrals:get", result=ReferralSummary, budget=None)
async def get_referrals(ctx: EventContext, payload: NoPayload) -> dict:
    """Your referral code and link, how many registered with it, how many of them completed a first task, and what you
    earned (`REFERRAL_REWARD_CENTS` to you and to them for each first completed task; at most `REFERRAL_MAX_REWARDS`)."""
    return await referrals.summary(ctx.services.db, ctx.user_id, ctx.services.settings.public_url)
