"""Reconciling our books with Stripe: a periodic job (`RECONCILE_SECONDS`, and at start) and `python -m server reconcile`.

- A deposit still `pending` whose Checkout Session is older than `RECONCILE_MIN_AGE_SECONDS`
  is looked up: paid → credited through the webhook's own idempotent step (so a lost or
  missed webhook still credits, exactly once); expired → failed. One that never got a
  session (the server stopped in between) is failed after an hour: nobody had a page to pay on.
- Payouts not yet `paid` or `failed` are resumed, as the resume sweep does.
- Subscriptions whose stored status is not final are read again from Stripe, so a missed
  plan webhook is healed (and `plan:updated` pushed).
- Transfers Stripe made under our keys since the last scan are matched to our payouts;
  one that does not match is reported to the admins (`admin:queue {kind: "reconciliation"}`)
  and logged, never paid again or reversed by the server.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import stripe

from models import clock, deposits, plans, reconciliation
from server import pushes
from workers import payouts
from workers import plans as plan_jobs

log = logging.getLogger(__name__)
UNSTARTED_DEPOSIT_SECONDS = 3600
TRANSFER_SCAN_OVERLAP_SECONDS = 300


@dataclass
class Findings:
    credited: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    reported: list[dict] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    open_items: int = 0
    skipped: str | None = None

    @property
    def disagreed(self) -> bool:
        """The books and Stripe did not agree: a webhook was missed, or a transfer is unaccounted for (now or still open)."""
        return bool(self.credited or self.failed or self.reported or self.plans or self.open_items)

    def summary(self) -> str:
        if self.skipped:
            return f"reconciliation skipped: {self.skipped}"
        lines = [f"reconciliation: {'DISAGREEMENTS FOUND' if self.disagreed else 'books agree with Stripe'}"]
        lines += [f"  deposit credited (its webhook never came): {deposit}" for deposit in self.credited]
        lines += [f"  deposit failed (its Checkout Session expired): {deposit}" for deposit in self.failed]
        lines += [f"  deposit abandoned (no Checkout Session was ever made): {deposit}" for deposit in self.abandoned]
        lines += [f"  plan updated (a subscription webhook never came): user {user}" for user in self.plans]
        lines += [f"  {item['kind']}: {item['transferId']} ({item['amount']} {item['currency']})" for item in self.reported]
        if self.open_items:
            lines.append(f"  reconciliation items open for the admins: {self.open_items} (admin:reconciliations)")
        return "\n".join(lines)


async def reconcile(services) -> Findings:
    """Job: bring deposits and payouts in line with Stripe and report what cannot be (see the module doc)."""
    if services.stripe is None:
        return Findings(skipped="Stripe is not configured")
    findings = Findings()
    settings = services.settings
    try:
        await _deposits(services, findings, min_age=settings.reconcile_min_age_seconds)
        await payouts.resume(services)
        await _subscriptions(services, findings)
        await _transfers(services, findings, lookback=settings.reconcile_lookback_seconds)
        findings.open_items = await reconciliation.open_count(services.db)
    except stripe.StripeError as error:
        log.warning("reconciliation stopped: Stripe did not answer", extra={"stripeError": type(error).__name__})
        findings.skipped = f"Stripe did not answer ({type(error).__name__})"
    if findings.disagreed:
        log.warning("reconciliation found disagreements", extra={
            "credited": findings.credited, "failed": findings.failed, "reported": [item["_id"] for item in findings.reported],
            "plans": findings.plans,
        })  # fmt: skip
    return findings


async def _deposits(services, findings: Findings, *, min_age: float) -> None:
    now = clock.now()
    for deposit in await deposits.awaiting_stripe(services.db, created_before=now - timedelta(seconds=min_age)):
        outcome = await services.stripe.checkout_outcome(deposit["sessionId"])
        paid = outcome.payment_status == "paid"
        if not paid and outcome.status != "expired":
            continue
        refs = {"checkoutSessionId": outcome.id, "paymentIntentId": outcome.payment_intent, "reconciled": True}
        settled = await deposits.settle(services.db, deposit["_id"], paid=paid, stripe_refs=refs)
        if settled is not None:
            (findings.credited if paid else findings.failed).append(str(deposit["_id"]))
            await pushes.money.deposit_settled(services, settled)
    for deposit in await deposits.never_started(services.db, created_before=now - timedelta(seconds=UNSTARTED_DEPOSIT_SECONDS)):
        settled = await deposits.settle(services.db, deposit["_id"], paid=False, stripe_refs={"reconciled": True, "neverStarted": True})
        if settled is not None:
            findings.abandoned.append(str(deposit["_id"]))


async def _subscriptions(services, findings: Findings) -> None:
    for user in await plans.users_to_reread(services.db):
        read_at = clock.now()
        try:
            if (subscription_id := plans.live_subscription_id(user)) is None:
                subscription_id = (await services.stripe.checkout_outcome(user["planCheckout"]["sessionId"])).subscription
            if subscription_id is None:
                continue
            retrieved = plans.Retrieved(await services.stripe.subscription(subscription_id), read_at)
        except stripe.InvalidRequestError as error:
            log.warning("a stored subscription Stripe does not know", extra={"userId": str(user["_id"]), "stripeError": error.code})
            continue
        if (changed := await plans.heal(services.db, retrieved, services.settings.plans)) is not None:
            findings.plans.append(str(changed))
            await plan_jobs.changed(services, changed)


async def _transfers(services, findings: Findings, *, lookback: float) -> None:
    """Scan from a little before where the last scan ended (Stripe's clock and ours differ); reports are once per transfer."""
    db = services.db
    started = clock.now()
    since = await reconciliation.transfers_scanned_until(db, lookback_seconds=lookback)
    created_from = int(since.timestamp()) - TRANSFER_SCAN_OVERLAP_SECONDS
    async for transfer in services.stripe.transfers_since(max(created_from, 0)):
        item = await reconciliation.check_transfer(db, transfer)
        if item is not None:
            findings.reported.append(item)
            log.error("a Stripe transfer disagrees with our books", extra={"transferId": transfer["id"], "kind": item["kind"]})
            await pushes.money.admin_queue(services, "reconciliation", "added", reconciliation.public(item))
    await reconciliation.scanned_transfers_until(db, started)
