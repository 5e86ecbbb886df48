"""Telling users their plan changed: after a webhook or reconciliation stored news from Stripe, and when a past-due
subscription's grace period ends (nothing arrives from Stripe then; the plan lapses by time)."""

from datetime import datetime

from bson import ObjectId

from models import clock, plans
from server import pushes


async def changed(services, user_id: ObjectId) -> None:
    """Push `plan:updated`; a subscription now past due also gets a job at the end of its grace period."""
    user = await pushes.account.plan_changed(services, user_id)
    if (ends := plans.grace_ends_at(user, services.settings.plans)) is not None:
        delay = max((ends - clock.now()).total_seconds(), 0) + 1
        await services.jobs.enqueue_in(delay, grace_ended, str(user_id), user["subscription"]["pastDueSince"].isoformat())


async def grace_ended(services, user_id: str, past_due_since: str) -> None:
    """Job: the user's past-due grace is over and the payment never came: tell them they are on `free` now (once)."""
    if await plans.end_grace(services.db, ObjectId(user_id), datetime.fromisoformat(past_due_since)):
        await pushes.account.plan_changed(services, user_id)
