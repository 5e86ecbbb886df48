"""The caller's wallet: balances, history, top-ups through Stripe Checkout, withdrawal requests."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt

from models import deposits, roles, wallets, withdrawals
from server import pushes
from server.gateway.dispatch import EventContext
from server.gateway.events import NoPayload, Retryable, event
from server.gateway.shapes import LedgerLine, PageQuery, Pagination, Wallet, WithdrawalRequest
from server.infra.stripe_api import answered_as_unavailable


class TransactionsResult(BaseModel):
    transactions: list[LedgerLine]
    pagination: Pagination


class DepositPayload(Retryable):
    amount: Annotated[StrictInt, Field(ge=deposits.MIN_CENTS, le=deposits.MAX_CENTS, description="cents")]


class DepositStarted(BaseModel):
    url: str = Field(description="Stripe Checkout page to open in a browser")
    sessionId: str
    depositId: str


class WithdrawPayload(Retryable):
    amount: Annotated[StrictInt, Field(ge=withdrawals.MIN_CENTS, le=withdrawals.MAX_CENTS, description="cents, at most the available balance")]


class WithdrawalStarted(BaseModel):
    requestId: str
    amount: int
    status: str


@event("wallet:get", result=Wallet, budget=None)
async def get_wallet(ctx: EventContext, payload: NoPayload) -> dict:
    """Balances in cents: `balance` is spendable, `held` is reserved (open offers, pending withdrawals)."""
    return await wallets.summary(ctx.services.db, None, ctx.user_id)


@event("wallet:transactions", payload=PageQuery, result=TransactionsResult, budget=None)
async def list_transactions(ctx: EventContext, payload: PageQuery) -> dict:
    """The caller's ledger transactions, newest first, each as the change it made to this wallet."""
    return await wallets.transactions(ctx.services.db, ctx.user_id, page=payload.page, limit=payload.limit)


@event("wallet:deposit", payload=DepositPayload, result=DepositStarted, who=roles.CUSTOMERS)
async def deposit(ctx: EventContext, payload: DepositPayload) -> dict:
    """Start a top-up: open the returned Checkout `url`; the wallet is credited when Stripe confirms (`wallet:updated`)."""
    services = ctx.services
    api = services.payments()
    pending, _ = await deposits.open_pending(services.db, ctx.user_id, payload.amount, ctx.client_request)
    if pending.get("checkoutUrl"):
        return {"url": pending["checkoutUrl"], "sessionId": pending["sessionId"], "depositId": str(pending["_id"])}
    base = services.settings.public_url.rstrip("/")
    with answered_as_unavailable():
        checkout = await api.checkout_session(
            deposit_id=str(pending["_id"]),
            user_id=ctx.user_id,
            amount=payload.amount,
            currency=pending["currency"],
            success_url=f"{base}/api/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{base}/api/checkout/cancel?session_id={{CHECKOUT_SESSION_ID}}",
        )
    await deposits.attach_checkout(services.db, pending["_id"], checkout.id, checkout.url)
    return {"url": checkout.url, "sessionId": checkout.id, "depositId": str(pending["_id"])}


@event("wallet:withdraw", payload=WithdrawPayload, result=WithdrawalStarted, who=roles.CONTRACTORS)
async def withdraw(ctx: EventContext, payload: WithdrawPayload) -> dict:
    """Ask for a payout to your connected bank account; the amount is held until an admin approves or rejects."""
    request, created = await withdrawals.request(ctx.services.db, ctx.user_id, payload.amount, ctx.client_request)
    if created:
        await pushes.money.admin_queue(ctx.services, "withdrawal", "added", withdrawals.public(request))
        await pushes.money.wallet_changed(ctx.services, ctx.user_id)
    return {"requestId": str(request["_id"]), "amount": request["amount"], "status": request["status"]}


class MyWithdrawalsQuery(PageQuery):
    status: Literal[*withdrawals.STATUSES] | None = None


class MyWithdrawals(BaseModel):
    requests: list[WithdrawalRequest]
    pagination: Pagination


@event("wallet:withdrawals", payload=MyWithdrawalsQuery, result=MyWithdrawals, who=roles.CONTRACTORS, budget=None)
async def my_withdrawals(ctx: EventContext, payload: MyWithdrawalsQuery) -> dict:
    """Your own withdrawal requests, newest first, optionally of one status (to check on a request whose ack was lost)."""
    return await withdrawals.listing(ctx.services.db, status=payload.status, page=payload.page, limit=payload.limit, user_id=ctx.user_id)
