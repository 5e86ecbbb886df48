"""A local stand-in for Stripe's HTTP API, reached by the server through `STRIPE_API_BASE`.

It runs in the test process (its own thread and event loop), records every call with
its idempotency key, replays the stored answer for a repeated key as Stripe does, and can
be told to fail or to hold the next calls to a path.
"""

import asyncio
import threading
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
    failures: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    holds: dict[str, threading.Event] = field(default_factory=dict)
    _replies: dict[str, tuple[int, dict]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, path: str, *statuses: int) -> None:
        """The next calls to `path` answer these statuses (500: Stripe's failure, 400: a refusal), before doing anything."""
        self.failures[path].extend(statuses)

    def hold_next(self, path: str) -> threading.Event:
        """The next call to `path` is carried out, then its answer waits until the returned event is set."""
        self.holds[path] = threading.Event()
        return self.holds[path]

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
        path = request.path
        self.calls.append(Call(request.method, path, nested(form), key))
        if self.failures[path]:
            status = self.failures[path].pop(0)
            kind = "api_error" if status >= 500 else "invalid_request_error"
            return web.json_response(
                {"error": {"type": kind, "message": f"injected {status}", "code": "injected"}},
                status=status,
                headers={"Stripe-Should-Retry": "false"},
            )
        if key and key in self._replies:
            status, body = self._replies[key]
        else:
            status, body = self._answer(request.method, path, nested(form))
            if key and request.method == "POST":
                self._replies[key] = (status, body)
        if hold := self.holds.pop(path, None):
            await asyncio.get_running_loop().run_in_executor(None, hold.wait, 30)
        return web.json_response(body, status=status)

    def _answer(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict]:
        token = uuid.uuid4().hex[:14]
        if path == "/v1/checkout/sessions":
            return 200, {
                "id": f"cs_test_{token}",
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/pay/cs_test_{token}",
                "metadata": params.get("metadata", {}),
                "client_reference_id": params.get("client_reference_id"),
            }
        if path == "/v1/accounts":
            return 200, {"id": f"acct_{token}", "object": "account", "payouts_enabled": False, "details_submitted": False}
        if path == "/v1/account_links":
            return 200, {"object": "account_link", "url": f"https://connect.stripe.test/setup/{params['account']}/{token}"}
        if path == "/v1/transfers" and method == "POST":
            transfer = {
                "id": f"tr_{token}",
                "object": "transfer",
                "amount": int(params["amount"]),
                "currency": params["currency"],
                "destination": params["destination"],
                "transfer_group": params.get("transfer_group"),
            }
            self.transfers[transfer["id"]] = transfer
            return 200, transfer
        if path == "/v1/transfers":
            found = [t for t in self.transfers.values() if t["transfer_group"] == params.get("transfer_group")]
            return 200, {"object": "list", "data": found, "has_more": False, "url": "/v1/transfers"}
        return 404, {"error": {"type": "invalid_request_error", "message": f"no fake for {method} {path}"}}
