"""Contractors' Stripe Connect onboarding, which withdrawals need."""

from pydantic import BaseModel, Field, HttpUrl

from models import payout_accounts, roles, users
from server.gateway.dispatch import EventContext
from server.gateway.events import NoPayload, Payload, event
from server.gateway.shapes import PayoutsStatus
from server.infra.stripe_api import answered_as_unavailable


class OnboardPayload(Payload):
    refreshUrl: HttpUrl = Field(description="where Stripe sends the user if the link expired (call `payouts:onboard` again there)")
    returnUrl: HttpUrl = Field(description="where Stripe sends the user after onboarding")


class OnboardingLink(BaseModel):
    url: str = Field(description="Stripe's hosted onboarding page; single use, expires in minutes")
    accountId: str


@event("payouts:onboard", payload=OnboardPayload, result=OnboardingLink, who=roles.CONTRACTORS)
async def onboard(ctx: EventContext, payload: OnboardPayload) -> dict:
    """Create your Stripe Express account (once; later calls reuse it) and get a fresh onboarding link."""
    services = ctx.services
    api = services.payments()
    connected = await payout_accounts.of_user(services.db, None, ctx.user_id)
    with answered_as_unavailable():
        if connected["accountId"] is None:
            user = await users.get(services.db, ctx.user_id)
            created = await api.express_account(user_id=ctx.user_id, email=user["email"])
            connected = await payout_accounts.connect(services.db, ctx.user_id, created)
        url = await api.onboarding_link(account_id=connected["accountId"], refresh_url=str(payload.refreshUrl), return_url=str(payload.returnUrl))
    return {"url": url, "accountId": connected["accountId"]}


@event("payouts:status", result=PayoutsStatus, who=roles.CONTRACTORS, budget=None)
async def status(ctx: EventContext, payload: NoPayload) -> dict:
    """Where your connected account stands, as Stripe last told us (`account.updated` keeps it current)."""
    return await payout_accounts.of_user(ctx.services.db, None, ctx.user_id)


class DashboardLink(BaseModel):
    url: str = Field(description="a single-use link into your Stripe Express dashboard; it expires within minutes")


@event("payouts:dashboard", result=DashboardLink, who=roles.CONTRACTORS)
async def dashboard(ctx: EventContext, payload: NoPayload) -> dict:
    """Open your Stripe Express dashboard (payouts, balance, bank details). A new link each call; `invalid_state` until
    onboarding is finished."""
    api = ctx.services.payments()
    account_id = await payout_accounts.dashboard_account(ctx.services.db, ctx.user_id)
    with answered_as_unavailable():
        return {"url": await api.dashboard_link(account_id=account_id)}
