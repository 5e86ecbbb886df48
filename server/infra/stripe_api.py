"""Every call we make to Stripe, through the official SDK's async `StripeClient`.

Calls that create money-moving objects carry an idempotency key derived from our own
record id, so a retry (ours or the SDK's) can never create a second one. With
`STRIPE_API_BASE` all calls go to that address instead of Stripe's (stripe-mock, or the
tests' fake).
"""

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import stripe

from models.errors import AppError

log = logging.getLogger(__name__)

NETWORK_RETRIES = 2
TIMEOUT_SECONDS = 30


def is_transient(error: stripe.StripeError) -> bool:
    """Worth trying again later: no answer, rate limited, a conflict, or Stripe's own failure."""
    return error.http_status is None or error.http_status in (409, 429) or error.http_status >= 500


@contextlib.contextmanager
def answered_as_unavailable() -> Iterator[None]:
    """For calls made while a client waits: Stripe's refusal becomes `payments_unavailable`."""
    try:
        yield
    except stripe.StripeError as error:
        log.warning("stripe call failed", extra={"stripeError": type(error).__name__, "httpStatus": error.http_status, "code": error.code})
        raise AppError("payments_unavailable", "Stripe did not complete the request; nothing was charged or changed. Try again.") from None


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True, slots=True)
class CheckoutOutcome:
    id: str
    status: str
    """`open`, `complete` or `expired`."""
    payment_status: str
    """`paid`, `unpaid` or `no_payment_required`."""
    payment_intent: str | None
    subscription: str | None = None
    """A subscription-mode session's subscription, once paid."""


class StripeApi:
    def __init__(self, secret_key: str, api_base: str | None = None) -> None:
        self._http = stripe.AIOHTTPClient(timeout=TIMEOUT_SECONDS)
        bases = {"api": api_base, "connect": api_base} if api_base else None
        self._client = stripe.StripeClient(secret_key, base_addresses=bases, http_client=self._http, max_network_retries=NETWORK_RETRIES)

    async def close(self) -> None:
        await self._http.close_async()

    async def checkout_session(
        self,
        *,
        deposit_id: str,
        user_id: str,
        amount: int,
        currency: str,
        success_url: str,
        cancel_url: str,
    ) -> CheckoutSession:
        session = await self._client.v1.checkout.sessions.create_async(
            {
                "mode": "payment",
                "payment_method_types": ["card"],
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {"currency": currency, "unit_amount": amount, "product_data": {"name": "Wallet top-up"}},
                    }
                ],
                "client_reference_id": user_id,
                "metadata": {"depositId": deposit_id, "userId": user_id},
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            {"idempotency_key": f"deposit:{deposit_id}"},
        )
        return CheckoutSession(session.id, session.url)

    async def express_account(self, *, user_id: str, email: str) -> str:
        """The key makes two racing first calls for one user get the same account."""
        account = await self._client.v1.accounts.create_async(
            {"type": "express", "email": email, "capabilities": {"transfers": {"requested": True}}, "metadata": {"userId": user_id}},
            {"idempotency_key": f"connect-account:{user_id}"},
        )
        return account.id

    async def onboarding_link(self, *, account_id: str, refresh_url: str, return_url: str) -> str:
        link = await self._client.v1.account_links.create_async(
            {"account": account_id, "type": "account_onboarding", "refresh_url": refresh_url, "return_url": return_url},
        )
        return link.url

    async def transfer(self, *, payout_id: str, amount: int, currency: str, destination: str) -> str:
        transfer = await self._client.v1.transfers.create_async(
            {
                "amount": amount,
                "currency": currency,
                "destination": destination,
                "transfer_group": f"payout:{payout_id}",
                "metadata": {"payoutId": payout_id},
            },
            {"idempotency_key": f"payout:{payout_id}"},
        )
        return transfer.id

    async def checkout_outcome(self, session_id: str) -> CheckoutOutcome:
        """Where a Checkout Session stands now, as the reconciliation asks when a webhook may have been missed."""
        session = (await self._client.v1.checkout.sessions.retrieve_async(session_id)).to_dict()
        return CheckoutOutcome(
            session["id"], session["status"], session["payment_status"], session.get("payment_intent"), session.get("subscription")
        )

    async def transfers_since(self, created_from: int) -> AsyncIterator[dict[str, Any]]:
        """Every transfer made on this account at or after `created_from` (a Unix time), page by page."""
        listing = await self._client.v1.transfers.list_async({"created": {"gte": created_from}, "limit": 100})
        async for found in listing.auto_paging_iter():
            transfer = found.to_dict()
            yield {
                "id": transfer["id"], "amount": transfer["amount"], "currency": transfer["currency"], "destination": transfer.get("destination"),
                "transferGroup": transfer.get("transfer_group"), "metadata": transfer.get("metadata") or {}, "created": transfer["created"],
            }  # fmt: skip

    async def customer(self, *, user_id: str, email: str, name: str) -> str:
        """The user's Stripe Customer: the key makes two racing first calls get the same one."""
        customer = await self._client.v1.customers.create_async(
            {"email": email, "name": name, "metadata": {"userId": user_id}}, {"idempotency_key": f"customer:{user_id}"}
        )
        return customer.id

    async def subscription_checkout(self, *, user_id: str, customer_id: str, price_id: str, success_url: str, cancel_url: str) -> CheckoutSession:
        session = await self._client.v1.checkout.sessions.create_async({
            "mode": "subscription", "customer": customer_id, "client_reference_id": user_id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "subscription_data": {"metadata": {"userId": user_id}}, "metadata": {"userId": user_id},
            "success_url": success_url, "cancel_url": cancel_url,
        })  # fmt: skip
        return CheckoutSession(session.id, session.url)

    async def subscription(self, subscription_id: str) -> dict[str, Any]:
        """The subscription as Stripe has it now (events arrive in any order; this is the truth)."""
        return (await self._client.v1.subscriptions.retrieve_async(subscription_id)).to_dict()

    async def billing_portal(self, *, customer_id: str, return_url: str) -> str:
        session = await self._client.v1.billing_portal.sessions.create_async({"customer": customer_id, "return_url": return_url})
        return session.url

    async def dashboard_link(self, *, account_id: str) -> str:
        """A single-use link into the connected account's Express dashboard."""
        link = await self._client.v1.accounts.login_links.create_async(account_id)
        return link.url

    async def find_transfer(self, *, payout_id: str) -> str | None:
        """Whether a payout's transfer exists, even after the idempotency key's 24 hours have passed."""
        found = await self._client.v1.transfers.list_async({"transfer_group": f"payout:{payout_id}", "limit": 1})
        return found.data[0].id if found.data else None
