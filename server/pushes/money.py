"""What the server tells clients unprompted about money and approval queues.

Handlers, the webhook route and the payout jobs call these after their transaction committed.
"""

from typing import Any, Literal

from bson import ObjectId

from models import deposits, wallets, withdrawals
from models.referrals import Rewarded
from server.gateway.events import push
from server.gateway.rooms import ADMINS
from server.gateway.shapes import (
    CompletionRequest,
    DepositResult,
    PayoutsStatus,
    ReconciliationItem,
    ReferralRewarded,
    Shape,
    Wallet,
    WithdrawalRequest,
    WithdrawalResult,
)
from server.pushes.delivery import deliver


class QueueChange(Shape):
    kind: Literal["withdrawal", "completion", "reconciliation"]
    action: Literal["added", "resolved"]
    request: WithdrawalRequest | CompletionRequest | ReconciliationItem


WALLET_UPDATED = push(
    "wallet:updated",
    Wallet,
    "The caller's balances changed (deposit credited, hold placed or released, withdrawal paid or reversed, freeze). Same shape as `wallet:get`.",
)
DEPOSIT_UPDATED = push(
    "deposit:updated", DepositResult, "A deposit was settled by Stripe: `completed` (credited) or `failed` (nothing credited).", stored=True
)
WITHDRAWAL_UPDATED = push(
    "withdrawal:updated",
    WithdrawalResult,
    "The caller's withdrawal request changed: `approved`, `paid` (with `transferId`), "
    "`failed` (money returned to the wallet) or `rejected` (with `reason`).",
    stored=True,
)
PAYOUTS_UPDATED = push(
    "payouts:updated", PayoutsStatus, "Stripe updated the caller's connected account (same shape as `payouts:status`).", stored=True
)
REFERRAL_REWARDED = push(
    "referral:rewarded", ReferralRewarded, "A referral reward was credited to your wallet (`wallet:updated` follows).", stored=True
)
ADMIN_QUEUE = push(
    "admin:queue", QueueChange,
    "To admins: a request entered (`added`) or left (`resolved`) an approval queue; `reconciliation` items are what reconciling with Stripe found.",
)  # fmt: skip


async def wallet_changed(services, user_id: str | ObjectId) -> None:
    await deliver(services, WALLET_UPDATED, await wallets.summary(services.db, None, user_id), users=[user_id])


async def referral_rewarded(services, rewards: list[Rewarded]) -> None:
    for reward in rewards:
        payload = {"amount": reward.amount, "side": reward.side, "referredUserId": str(reward.referred_id)}
        await deliver(services, REFERRAL_REWARDED, payload, users=[reward.user_id])
        await wallet_changed(services, reward.user_id)


async def deposit_settled(services, deposit: dict[str, Any]) -> None:
    await deliver(services, DEPOSIT_UPDATED, {"deposit": deposits.public(deposit)}, users=[deposit["userId"]])
    await wallet_changed(services, deposit["userId"])


async def withdrawal_changed(services, request: dict[str, Any], *, balances_moved: bool) -> None:
    await deliver(services, WITHDRAWAL_UPDATED, {"request": withdrawals.public(request)}, users=[request["userId"]])
    if balances_moved:
        await wallet_changed(services, request["userId"])


async def payouts_changed(services, user_id: ObjectId, payouts: dict[str, Any]) -> None:
    await deliver(services, PAYOUTS_UPDATED, payouts, users=[user_id])


async def admin_queue(services, kind: str, action: str, request: dict[str, Any]) -> None:
    """`request` in its public form (a withdrawal or a completion request)."""
    await deliver(services, ADMIN_QUEUE, {"kind": kind, "action": action, "request": request}, rooms=[ADMINS])
