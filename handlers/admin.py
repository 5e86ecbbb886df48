"""The admin dashboard's approval queues and wallet controls."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool, StrictInt

from handlers.tasks import Cancel, CancelResult, cancel_task
from models import completions, plans, profiles, reconciliation, roles, tasks, wallets, withdrawals
from server import pushes
from server.gateway.dispatch import EventContext
from server.gateway.events import Payload, Retryable, Visible, event
from server.gateway.shapes import (
    AdminUserDetail,
    AdminUsersPage,
    CompletionRequest,
    PageQuery,
    Pagination,
    ReconciliationItem,
    Task,
    Wallet,
    WithdrawalRequest,
    WithdrawalResult,
)
from workers import payouts as payout_jobs

ObjectIdString = Annotated[str, Field(min_length=24, max_length=24)]
MAX_ADJUSTMENT_CENTS = 100_000_000


class WithdrawalsQuery(PageQuery):
    status: Literal[*withdrawals.STATUSES] | None = None


class CompletionsQuery(PageQuery):
    status: Literal[*completions.STATUSES] | None = None


class CompletionsPage(BaseModel):
    requests: list[CompletionRequest]
    pagination: Pagination


class CompletionDecision(BaseModel):
    request: CompletionRequest
    task: Task


class WithdrawalsPage(BaseModel):
    requests: list[WithdrawalRequest]
    pagination: Pagination


class RequestRef(Payload):
    requestId: ObjectIdString


class RejectPayload(RequestRef):
    reason: Annotated[str, Field(min_length=1, max_length=500), Visible]


class FreezePayload(Payload):
    userId: ObjectIdString
    frozen: StrictBool
    reason: Annotated[str, Field(min_length=1, max_length=500), Visible]


def _not_zero(amount: int) -> int:
    if amount == 0:
        raise ValueError("must not be zero")
    return amount


class AdjustPayload(Retryable):
    userId: ObjectIdString
    amount: Annotated[StrictInt, Field(ge=-MAX_ADJUSTMENT_CENTS, le=MAX_ADJUSTMENT_CENTS), AfterValidator(_not_zero)] = Field(
        description="cents, not zero; positive credits the wallet, negative debits it (never below zero)"
    )
    reason: Annotated[str, Field(min_length=1, max_length=500), Visible]


class UserRef(Payload):
    userId: ObjectIdString


class UsersQuery(PageQuery):
    q: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(default=None, description="part of a name or email")
    plan: Literal[*plans.TIERS] | None = Field(default=None, description="only users on this plan now")


class WalletResult(BaseModel):
    userId: str
    wallet: Wallet


@event("admin:withdrawals", payload=WithdrawalsQuery, result=WithdrawalsPage, who=roles.ADMINS, budget=None)
async def list_withdrawals(ctx: EventContext, payload: WithdrawalsQuery) -> dict:
    """Withdrawal requests, newest first, optionally of one status (`pending` is the approval queue)."""
    return await withdrawals.listing(ctx.services.db, status=payload.status, page=payload.page, limit=payload.limit)


@event("admin:withdrawal:approve", payload=RequestRef, result=WithdrawalResult, who=roles.ADMINS)
async def approve_withdrawal(ctx: EventContext, payload: RequestRef) -> dict:
    """Approve and pay out: the ack carries the request after the first transfer attempt (`paid`, or `approved` while retries run)."""
    services = ctx.services
    services.require_payments()
    request, payout = await withdrawals.approve(services.db, payload.requestId, ctx.user_id, lease_seconds=services.settings.payout_lease_seconds)
    await pushes.money.admin_queue(services, "withdrawal", "resolved", withdrawals.public(request))
    await pushes.money.withdrawal_changed(services, request, balances_moved=True)
    settled = await payout_jobs.transfer(services, payout)
    return {"request": withdrawals.public(settled or request)}


@event("admin:withdrawal:reject", payload=RejectPayload, result=WithdrawalResult, who=roles.ADMINS)
async def reject_withdrawal(ctx: EventContext, payload: RejectPayload) -> dict:
    """Refuse a pending request; the held amount returns to the contractor's available balance."""
    request = await withdrawals.reject(ctx.services.db, payload.requestId, ctx.user_id, payload.reason)
    await pushes.money.admin_queue(ctx.services, "withdrawal", "resolved", withdrawals.public(request))
    await pushes.money.withdrawal_changed(ctx.services, request, balances_moved=True)
    return {"request": withdrawals.public(request)}


@event("admin:wallet:freeze", payload=FreezePayload, result=WalletResult, who=roles.ADMINS)
async def freeze_wallet(ctx: EventContext, payload: FreezePayload) -> dict:
    """Freeze (or unfreeze) a user's wallet: frozen, it still receives but cannot spend, hold or withdraw.

    A frozen admin loses admin rights at once (`session:revoked`) until unfrozen.
    """
    await ctx.services.revocations.end(await wallets.freeze(ctx.services.db, payload.userId, payload.frozen, payload.reason))
    await pushes.money.wallet_changed(ctx.services, payload.userId)
    return {"userId": payload.userId, "wallet": await wallets.summary(ctx.services.db, None, payload.userId)}


@event("admin:wallet:adjust", payload=AdjustPayload, result=WalletResult, who=roles.ADMINS)
async def adjust_wallet(ctx: EventContext, payload: AdjustPayload) -> dict:
    """Book a correction or goodwill credit (an `adjustment` transaction recording the admin and the reason)."""
    _, booked = await wallets.adjust(
        ctx.services.db, payload.userId, payload.amount, reason=payload.reason, admin_id=ctx.user_id, request=ctx.client_request
    )
    if booked:
        await pushes.money.wallet_changed(ctx.services, payload.userId)
    return {"userId": payload.userId, "wallet": await wallets.summary(ctx.services.db, None, payload.userId)}


@event("admin:completions", payload=CompletionsQuery, result=CompletionsPage, who=roles.ADMINS, budget=None)
async def list_completions(ctx: EventContext, payload: CompletionsQuery) -> dict:
    """Completion requests, newest first, optionally of one status (`pending` is the approval queue)."""
    return await completions.listing(ctx.services.db, status=payload.status, page=payload.page, limit=payload.limit)


@event("admin:completion:approve", payload=RequestRef, result=CompletionDecision, who=roles.ADMINS)
async def approve_completion(ctx: EventContext, payload: RequestRef) -> dict:
    """Approve: escrow pays the contractor `contractorPayout` and the platform its fees; task and offer become `completed`.
    A referred side's first completed task pays the referral rewards (`referral:rewarded`)."""
    request, task, rewarded = await completions.approve(ctx.services.db, payload.requestId, ctx.user_id, ctx.services.settings.referrals)
    await pushes.money.wallet_changed(ctx.services, task["contractorId"])
    await pushes.money.referral_rewarded(ctx.services, rewarded)
    return await _decided(ctx, request, task)


@event("admin:completion:reject", payload=RejectPayload, result=CompletionDecision, who=roles.ADMINS)
async def reject_completion(ctx: EventContext, payload: RejectPayload) -> dict:
    """Send the task back to `in_progress` with the reason; the contractor can submit again."""
    request, task = await completions.reject(ctx.services.db, payload.requestId, ctx.user_id, payload.reason)
    return await _decided(ctx, request, task)


async def _decided(ctx: EventContext, request: dict, task: dict) -> dict:
    view = completions.public(request)
    await pushes.money.admin_queue(ctx.services, "completion", "resolved", view)
    await pushes.tasks.task_updated(ctx.services, task)
    return {"request": view, "task": tasks.public(task)}


@event("admin:task:cancel", payload=Cancel, result=CancelResult, who=roles.ADMINS)
async def cancel_any_task(ctx: EventContext, payload: Cancel) -> dict:
    """Cancel any task that is not completed, with the same refunds as `task:cancel`."""
    return await cancel_task(ctx, payload)


class ReconciliationQuery(PageQuery):
    status: Literal[*reconciliation.STATUSES] | None = None


class ReconciliationPage(BaseModel):
    items: list[ReconciliationItem]
    pagination: Pagination


class ResolveItem(Payload):
    itemId: str = Field(min_length=1, max_length=100)
    note: Annotated[str, Field(min_length=1, max_length=1000, description="what was found and done (with Stripe, with the user)"), Visible]


class ResolvedItem(BaseModel):
    item: ReconciliationItem


@event("admin:reconciliations", payload=ReconciliationQuery, result=ReconciliationPage, who=roles.ADMINS, budget=None)
async def list_reconciliation_items(ctx: EventContext, payload: ReconciliationQuery) -> dict:
    """What reconciling with Stripe found that needs a person (e.g. a transfer no payout of ours accounts for), newest first."""
    return await reconciliation.listing(ctx.services.db, status=payload.status, page=payload.page, limit=payload.limit)


@event("admin:reconciliation:resolve", payload=ResolveItem, result=ResolvedItem, who=roles.ADMINS)
async def resolve_reconciliation_item(ctx: EventContext, payload: ResolveItem) -> dict:
    """Close an item with a note once it was looked into; the server itself never pays again or reverses anything for it."""
    item = reconciliation.public(await reconciliation.resolve(ctx.services.db, payload.itemId, ctx.user_id, payload.note))
    await pushes.money.admin_queue(ctx.services, "reconciliation", "resolved", item)
    return {"item": item}


@event("admin:users", payload=UsersQuery, result=AdminUsersPage, who=roles.ADMINS, budget=None)
async def search_users(ctx: EventContext, payload: UsersQuery) -> dict:
    """Find users by part of their name or email and/or their plan now, newest first."""
    return await profiles.admin_search(ctx.services.db, payload.q, payload.plan, ctx.services.settings.plans, page=payload.page, limit=payload.limit)


@event("admin:user:get", payload=UserRef, result=AdminUserDetail, who=roles.ADMINS, budget=None)
async def get_user(ctx: EventContext, payload: UserRef) -> dict:
    """One user as support needs them: account, public profile, plan and subscription, wallet, payouts, freeze."""
    return await profiles.admin_view(ctx.services.db, payload.userId, ctx.services.settings.plans)
