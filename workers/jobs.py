"""Every job by name, and the periodic ones with their intervals: the single list both runners use.

Code that schedules a job passes the job function itself (`jobs.enqueue_in(delay, payouts.pay, id)`);
the name under which RQ stores it comes from here, so no job name is typed anywhere else.
"""

from collections.abc import Awaitable, Callable

from server.config import Settings
from workers import mail, offers, payouts, plans, reconciliation, referrals

type Job = Callable[..., Awaitable[object]]

JOBS: dict[str, Job] = {
    "pay_payout": payouts.pay,
    "resume_payouts": payouts.resume,
    "expire_offer": offers.expire,
    "expire_offers": offers.sweep,
    "reconcile": reconciliation.reconcile,
    "plan_grace_ended": plans.grace_ended,
    "pay_waiting_referrals": referrals.sweep,
    "mail_verification": mail.verification,
    "mail_password_reset": mail.password_reset,
    "mail_password_changed": mail.password_changed,
}
NAMES: dict[Job, str] = {job: name for name, job in JOBS.items()}


def name_of(job: Job) -> str:
    return NAMES[job]


def periodic(settings: Settings) -> dict[Job, float]:
    """Job → interval in seconds; each also runs once at start, to pick up what a crash left."""
    return {
        payouts.resume: settings.payout_resume_seconds,
        offers.sweep: settings.expiry_sweep_seconds,
        referrals.sweep: settings.expiry_sweep_seconds,
        reconciliation.reconcile: settings.reconcile_seconds,
    }
