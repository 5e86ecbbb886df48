"""Listing boosts: a bump to the top, or a featured spot in matching searches; paid from the wallet or an Elite credit."""

from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from models import boosts, roles, tasks
from server import pushes
from server.gateway.dispatch import EventContext
from server.gateway.events import ClientRequestId, Id, Retryable, event
from server.gateway.shapes import Boost, PageQuery, Pagination, Task


class BuyPayload(Retryable):
    taskId: Id
    type: Literal[*boosts.TYPES] = Field(description="`bump`: to the top once; `featured`: in the featured block for `FEATURED_BOOST_SECONDS`")
    useCredit: StrictBool = Field(default=False, description="spend an Elite boost credit instead of paying from the wallet")
    clientRequestId: ClientRequestId = Field(description="required: a retry with the same id is charged once and returns the first boost")


class Bought(BaseModel):
    boost: Boost
    task: Task


class BoostsQuery(PageQuery):
    taskId: Id | None = Field(default=None, description="only this task's boosts")


class BoostsPage(BaseModel):
    boosts: list[Boost]
    pagination: Pagination


@event("boost:buy", payload=BuyPayload, result=Bought, who=roles.CUSTOMERS)
async def buy(ctx: EventContext, payload: BuyPayload) -> dict:
    """Boost your open task. Paid: `BUMP_PRICE_CENTS`/`FEATURED_PRICE_CENTS` from your wallet (`insufficient_funds`
    otherwise); with `useCredit`, one Elite credit (`no_credits` when none is left). A bump at most once per
    `BUMP_COOLDOWN_SECONDS` (`rate_limited` with `retryAfter`); featuring again while featured extends it. Not refunded
    if the task is cancelled."""
    services = ctx.services
    boost, task, created = await boosts.buy(
        services.db,
        payload.taskId,
        ctx.user_id,
        payload.type,
        use_credit=payload.useCredit,
        policy=services.settings.boosts,
        request=ctx.client_request,
    )
    if created:
        await pushes.tasks.task_updated(services, task)
        if payload.useCredit:
            await pushes.account.plan_changed(services, ctx.user_id)
        else:
            await pushes.money.wallet_changed(services, ctx.user_id)
    return {"boost": boosts.public(boost), "task": tasks.public(task or await tasks.get(services.db, None, boost["taskId"]))}


@event("boost:list", payload=BoostsQuery, result=BoostsPage, who=roles.CUSTOMERS, budget=None)
async def list_boosts(ctx: EventContext, payload: BoostsQuery) -> dict:
    """Your boosts, newest first, with their impressions and views."""
    return await boosts.listing(ctx.services.db, ctx.user_id, payload.taskId, page=payload.page, limit=payload.limit)
