"""What the server tells clients unprompted about money and approval queues, and the one place that says it.

Handlers, the webhook route and the payout jobs all call these after their transaction
committed, so a push never announces something that was rolled back.
"""

from typing import Any, Literal

from bson import ObjectId
from pydantic import BaseModel

from models import deposits, wallets, withdrawals
from server.events import push
from server.notify import tell

PayoutsState = Literal["not_connected", "pending", "verified", "restricted"]


class Wallet(BaseModel):
    balance: int
    held: int
    currency: str
    totalEarnings: int
    totalSpent: int
    totalWithdrawals: int
    isFrozen: bool
    payoutsStatus: PayoutsState


class Deposit(BaseModel):
    id: str
    amount: int
    currency: str
    status: Literal["pending", "completed", "failed"]
    sessionId: str | None
    createdAt: str


class DepositResult(BaseModel):
    deposit: Deposit


class WithdrawalRequest(BaseModel):
    id: str
    userId: str
    amount: int
    currency: str
    status: Literal["pending", "approved", "paid", "failed", "rejected"]
    reason: str | None
    transferId: str | None
    createdAt: str
    resolvedAt: str | None


class WithdrawalResult(BaseModel):
    request: WithdrawalRequest


class PayoutsStatus(BaseModel):
    accountId: str | None
    status: PayoutsState
    payoutsEnabled: bool
    requirementsNeeded: list[str]


class CompletionRequest(BaseModel):
    id: str
    taskId: str
    offerId: str
    customerId: str
    contractorId: str
    amount: int
    contractorPayout: int
    currency: str
    status: Literal["pending", "approved", "rejected", "cancelled"]
    reason: str | None
    createdAt: str
    resolvedAt: str | None


class QueueChange(BaseModel):
    kind: Literal["withdrawal", "completion"]
    action: Literal["added", "resolved"]
    request: WithdrawalRequest | CompletionRequest


WALLET_UPDATED = push("wallet:updated", Wallet, "The caller's balances changed (deposit credited, hold placed or released, withdrawal paid or reversed, freeze). Same shape as `wallet:get`.")
DEPOSIT_UPDATED = push("deposit:updated", DepositResult, "A deposit was settled by Stripe: `completed` (credited) or `failed` (nothing credited).")
WITHDRAWAL_UPDATED = push("withdrawal:updated", WithdrawalResult, "The caller's withdrawal request changed: `approved`, `paid` (with `transferId`), `failed` (money returned to the wallet) or `rejected` (with `reason`).")
PAYOUTS_UPDATED = push("payouts:updated", PayoutsStatus, "Stripe updated the caller's connected account (same shape as `payouts:status`).")
ADMIN_QUEUE = push("admin:queue", QueueChange, "To admins: a request entered (`added`) or left (`resolved`) an approval queue.")


async def wallet_changed(services, user_id: str | ObjectId) -> None:
    await services.emit_to_user(str(user_id), WALLET_UPDATED, await wallets.summary(services.db, user_id))


async def deposit_settled(services, deposit: dict[str, Any]) -> None:
    await tell(services, [str(deposit["userId"])], DEPOSIT_UPDATED, {"deposit": deposits.public(deposit)})
    await wallet_changed(services, deposit["userId"])


async def withdrawal_changed(services, request: dict[str, Any], *, balances_moved: bool) -> None:
    await tell(services, [str(request["userId"])], WITHDRAWAL_UPDATED, {"request": withdrawals.public(request)})
    if balances_moved:
        await wallet_changed(services, request["userId"])


async def payouts_changed(services, user_id: ObjectId, payouts: dict[str, Any]) -> None:
    await tell(services, [str(user_id)], PAYOUTS_UPDATED, payouts)


async def admin_queue(services, kind: str, action: str, request: dict[str, Any]) -> None:
    """`request` in its public form (a withdrawal or a completion request)."""
    await services.emit_to_admins(ADMIN_QUEUE, {"kind": kind, "action": action, "request": request})
