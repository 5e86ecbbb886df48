"""Offers: a priced proposal from a task's owner to an applicant, answered by the applicant."""

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt

from handlers.tasks import Reason
from models import fees, offers, roles, tasks
from server import pushes
from server.gateway.dispatch import EventContext
from server.gateway.events import Id, Payload, Retryable, Visible, event
from server.gateway.shapes import Offer, OfferResult, Task
from workers import offers as offer_jobs


class Send(Retryable):
    applicationId: Id
    amount: Annotated[StrictInt, Field(ge=100, le=100_000_000, description="cents, before fees")]
    timeline: Annotated[str, Field(min_length=1, max_length=200), Visible]
    description: Annotated[str, Field(min_length=1, max_length=5_000), Visible]


class OfferRef(Payload):
    offerId: Id


class Reject(OfferRef):
    reason: Reason


class Accepted(BaseModel):
    offer: Offer
    task: Task


@event("offer:send", payload=Send, result=OfferResult, who=roles.CUSTOMERS)
async def send(ctx: EventContext, payload: Send) -> dict:
    """Offer a price to an applicant: `totalCharge` (amount + platform fee) is held on your wallet until the offer ends."""
    services = ctx.services
    settings = services.settings
    offer, created = await offers.send(
        services.db,
        ctx.user_id,
        payload.applicationId,
        amount=payload.amount,
        timeline=payload.timeline,
        description=payload.description,
        policy=fees.FeePolicy(settings.platform_fee_bps, settings.service_fee_bps),
        ttl_seconds=settings.offer_ttl_seconds,
        request=ctx.client_request,
        plan_policy=settings.plans,
    )
    if created:
        await services.jobs.enqueue_in(settings.offer_ttl_seconds, offer_jobs.expire, str(offer["_id"]))
        await pushes.tasks.offer_received(services, offer)
        await pushes.money.wallet_changed(services, ctx.user_id)
    return {"offer": offers.public(offer)}


@event("offer:accept", payload=OfferRef, result=Accepted, who=roles.CONTRACTORS)
async def accept(ctx: EventContext, payload: OfferRef) -> dict:
    """Accept an offer made to you: the money moves into escrow and the task is yours (`assigned`, or `in_progress` with `autoStart`)."""
    offer, task, room = await offers.accept(ctx.services.db, payload.offerId, ctx.user_id, ctx.services.settings.plans)
    await pushes.tasks.offer_updated(ctx.services, offer)
    await pushes.tasks.task_updated(ctx.services, task)
    await pushes.money.wallet_changed(ctx.services, offer["customerId"])
    if room is not None:
        await pushes.chat.room_changed(ctx.services, room)
    return {"offer": offers.public(offer), "task": tasks.public(task)}


@event("offer:reject", payload=Reject, result=OfferResult, who=roles.CONTRACTORS)
async def reject(ctx: EventContext, payload: Reject) -> dict:
    """Decline an offer made to you; the customer's hold is released."""
    return await _ended(ctx, await offers.reject(ctx.services.db, payload.offerId, ctx.user_id, payload.reason))


@event("offer:cancel", payload=OfferRef, result=OfferResult, who=roles.CUSTOMERS)
async def cancel(ctx: EventContext, payload: OfferRef) -> dict:
    """Withdraw your pending offer; its hold is released and the task takes offers again."""
    return await _ended(ctx, await offers.cancel(ctx.services.db, payload.offerId, ctx.user_id))


async def _ended(ctx: EventContext, offer: dict) -> dict:
    await pushes.tasks.offer_updated(ctx.services, offer)
    await pushes.money.wallet_changed(ctx.services, offer["customerId"])
    return {"offer": offers.public(offer)}
