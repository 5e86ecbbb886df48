"""A local stand-in for Stripe's HTTP API, reached by the server through `STRIPE_API_BASE`.

It runs in the test process (its own thread and event loop), records every call with
its idempotency key, replays the stored answer for a repeated key as Stripe does, and can
be told to fail or to hold the next calls to a path. Objects belong to the API key that
created them, as to a Stripe account: each test server has a key of its own, so one server
never lists another's transfers.
"""

import asyncio
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.servers import free_port


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


def nested(form: list[tuple[str, str]]) -> dict[str, Any]:
    """`a[b][0]=x` → `{"a": {"b": {"0": "x"}}}`: enough to read back what the SDK sent."""
    result: dict[str, Any] = {}
    for key, value in form:
        parts = key.replace("]", "").split("[")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


@dataclass
class FakeStripe:
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    transfers: dict[str, dict] = field(default_factory=dict)
    sessions: dict[str, dict] = field(default_factory=dict)
    customers: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    failures: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    holds: dict[str, threading.Event] = field(default_factory=dict)
    _replies: dict[str, tuple[int, dict]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, path: str, *statuses: int) -> None:
        """The next POSTs to `path` answer these statuses (500: Stripe's failure, 400: a refusal), before doing anything.

        Only POSTs: the server also lists (GETs) the same path while reconciling, and that must not use up a failure.
        """
        self.failures[path].extend(statuses)

    def hold_next(self, path: str) -> threading.Event:
        """The next POST to `path` is carried out, then its answer waits until the returned event is set."""
        self.holds[path] = threading.Event()
        return self.holds[path]

    def pay(self, session_id: str) -> dict:
        """The customer paid on the Checkout page (no webhook is sent: the test sends one, or not)."""
        self.sessions[session_id] |= {"status": "complete", "payment_status": "paid", "payment_intent": f"pi_{uuid.uuid4().hex[:14]}"}
        return self.sessions[session_id]

    def expire(self, session_id: str) -> dict:
        self.sessions[session_id] |= {"status": "expired"}
        return self.sessions[session_id]

    def subscribe(self, session_id: str, price: str, *, status: str = "active", period_seconds: int = 30 * 86400) -> dict:
        """The customer paid on a subscription Checkout page: Stripe made the subscription (no webhook is sent)."""
        session = self.sessions[session_id]
        subscription = {
            "id": f"sub_{uuid.uuid4().hex[:14]}", "object": "subscription", "customer": session["customer"], "status": status,
            "metadata": session["_subscription_metadata"], "cancel_at_period_end": False, "latest_invoice": f"in_{uuid.uuid4().hex[:14]}",
            "items": {"object": "list", "data": [{"id": f"si_{uuid.uuid4().hex[:14]}", "object": "subscription_item", "price": {"id": price},
                                                  "current_period_end": int(time.time()) + period_seconds}]},
            "_account": session["_account"],
        }  # fmt: skip
        self.subscriptions[subscription["id"]] = subscription
        session |= {"status": "complete", "payment_status": "paid", "subscription": subscription["id"]}
        return _public(subscription)

    def change_subscription(self, subscription_id: str, *, price: str | None = None, period_seconds: int | None = None,
                            new_invoice: bool = False, **fields: Any) -> dict:  # fmt: skip
        """What Stripe now reports of a subscription (status, cancel_at_period_end, its price or period, a new invoice)."""
        subscription = self.subscriptions[subscription_id]
        subscription |= fields
        item = subscription["items"]["data"][0]
        if price is not None:
            item["price"] = {"id": price}
        if period_seconds is not None:
            item["current_period_end"] = int(time.time()) + period_seconds
        if new_invoice:
            subscription["latest_invoice"] = f"in_{uuid.uuid4().hex[:14]}"
        return _public(subscription)

    def transfer_outside_our_books(self, api_key: str, amount: int, group: str) -> dict:
        """A transfer under the account's keys that the server never made (or forgot), as reconciliation must find."""
        transfer = self._new_transfer(api_key, {"amount": amount, "currency": "usd", "destination": "acct_elsewhere", "transfer_group": group})
        return transfer

    def calls_to(self, path: str, **params: str) -> list[Call]:
        return [call for call in self.calls if call.path == path and all(call.params.get(k) == v for k, v in params.items())]

    def start(self) -> "FakeStripe":
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(10)
        return self

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        ready.set()
        loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        form = parse_qsl(await request.text()) if request.method == "POST" else list(request.query.items())
        key = request.headers.get("Idempotency-Key")
        account = request.headers.get("Authorization", "").removeprefix("Bearer ")
        path = request.path
        self.calls.append(Call(request.method, path, nested(form), key))
        if request.method == "POST" and self.failures[path]:
            status = self.failures[path].pop(0)
            kind = "api_error" if status >= 500 else "invalid_request_error"
            return web.json_response(
                {"error": {"type": kind, "message": f"injected {status}", "code": "injected"}},
                status=status,
                headers={"Stripe-Should-Retry": "false"},
            )
        if key and (account, key) in self._replies:
            status, body = self._replies[(account, key)]
        else:
            status, body = self._answer(account, request.method, path, nested(form))
            if key and request.method == "POST":
                self._replies[(account, key)] = (status, body)
        if request.method == "POST" and (hold := self.holds.pop(path, None)):
            await asyncio.get_running_loop().run_in_executor(None, hold.wait, 30)
        return web.json_response(body, status=status)

    def _new_transfer(self, account: str, params: dict[str, Any]) -> dict:
        transfer = {
            "id": f"tr_{uuid.uuid4().hex[:14]}",
            "object": "transfer",
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "destination": params["destination"],
            "transfer_group": params.get("transfer_group"),
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
            "_account": account,
        }
        self.transfers[transfer["id"]] = transfer
        return transfer

    def _answer(self, account: str, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict]:
        token = uuid.uuid4().hex[:14]
        if path == "/v1/checkout/sessions" and method == "POST":
            session = {
                "id": f"cs_test_{token}",
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/pay/cs_test_{token}",
                "metadata": params.get("metadata", {}),
                "client_reference_id": params.get("client_reference_id"),
                "mode": params.get("mode", "payment"),
                "customer": params.get("customer"),
                "subscription": None,
                "line_items": params.get("line_items"),
                "_subscription_metadata": (params.get("subscription_data") or {}).get("metadata", {}),
                "status": "open",
                "payment_status": "unpaid",
                "payment_intent": None,
                "created": int(time.time()),
                "_account": account,
            }
            self.sessions[session["id"]] = session
            return 200, _public(session)
        if path.startswith("/v1/checkout/sessions/") and method == "GET":
            session = self.sessions.get(path.rsplit("/", 1)[1])
            if session is None or session["_account"] != account:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such checkout.session", "code": "resource_missing"}}
            return 200, _public(session)
        if path == "/v1/customers" and method == "POST":
            customer = {"id": f"cus_{token}", "object": "customer", "email": params.get("email"), "metadata": params.get("metadata", {})}
            self.customers[customer["id"]] = customer | {"_account": account}
            return 200, customer
        if path.startswith("/v1/subscriptions/") and method == "GET":
            subscription = self.subscriptions.get(path.rsplit("/", 1)[1])
            if subscription is None or subscription["_account"] != account:
                return 404, {"error": {"type": "invalid_request_error", "message": "No such subscription", "code": "resource_missing"}}
            return 200, _public(subscription)
        if path == "/v1/billing_portal/sessions" and method == "POST":
            if params.get("customer") not in self.customers:
                return 400, {"error": {"type": "invalid_request_error", "message": "No such customer", "code": "resource_missing"}}
            return 200, {"id": f"bps_{token}", "object": "billing_portal.session", "url": f"https://billing.stripe.test/p/session/{token}",
                         "customer": params["customer"], "return_url": params.get("return_url")}  # fmt: skip
        if path.startswith("/v1/accounts/") and path.endswith("/login_links") and method == "POST":
            account_id = path.split("/")[3]
            return 200, {"object": "login_link", "url": f"https://connect.stripe.test/express/{account_id}/{token}", "created": int(time.time())}
        if path == "/v1/accounts":
            return 200, {"id": f"acct_{token}", "object": "account", "payouts_enabled": False, "details_submitted": False}
        if path == "/v1/account_links":
            return 200, {"object": "account_link", "url": f"https://connect.stripe.test/setup/{params['account']}/{token}"}
        if path == "/v1/transfers" and method == "POST":
            return 200, _public(self._new_transfer(account, params))
        if path == "/v1/transfers":
            since = int((params.get("created") or {}).get("gte", 0))
            found = [
                _public(t) for t in self.transfers.values()
                if t["_account"] == account and t["created"] >= since
                and ("transfer_group" not in params or t["transfer_group"] == params["transfer_group"])
            ]  # fmt: skip
            return 200, {"object": "list", "data": found, "has_more": False, "url": "/v1/transfers"}
        return 404, {"error": {"type": "invalid_request_error", "message": f"no fake for {method} {path}"}}


def _public(stored: dict) -> dict:
    return {name: value for name, value in stored.items() if not name.startswith("_")}
