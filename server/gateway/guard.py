"""Engine.IO sessions that have not connected an authenticated socket: bounded per client address and timed out."""

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import socketio
from socketio import packet

from models.errors import AppError
from server.config import Settings
from server.http.client_address import client_address

log = logging.getLogger("server.sessions")
FRAME_ACK_ID = re.compile(r"^[25](?:\d+-)?(/[^,]*)?,?(\d{1,15})?")
"""An EVENT (2) or BINARY_EVENT (5) frame's namespace and ack id, read without decoding its JSON."""


class ThrottledLog:
    """At most one line per second per client address, carrying how many of each thing happened since the last."""

    MAX_ADDRESSES = 10_000

    def __init__(self, logger: logging.Logger, message: str, interval: float = 1.0) -> None:
        self._logger, self._message, self._interval = logger, message, interval
        self._counts: dict[str, Counter[str]] = {}
        self._last: dict[str, float] = {}

    def note(self, address: str, what: str) -> None:
        self._counts.setdefault(address, Counter())[what] += 1
        now = time.monotonic()
        if now - self._last.get(address, float("-inf")) < self._interval:
            return
        if len(self._last) > self.MAX_ADDRESSES:
            self._last = {key: at for key, at in self._last.items() if now - at < self._interval}
        self._last[address] = now
        self._logger.warning(self._message, extra={"address": address, **self._counts.pop(address)})


class PendingSessions:
    """Engine.IO sessions that have not yet connected an authenticated socket.

    Each is closed after `CONNECT_TIMEOUT_SECONDS`, and one client address may hold at most
    `MAX_PENDING_SESSIONS_PER_IP` at once; a refused connection or a failed token leaves the
    session pending, so it times out like any other.
    """

    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.connect_timeout_seconds
        self._per_address = settings.max_pending_sessions_per_ip
        self.hops = settings.trusted_proxy_hops
        self._pending: dict[str, tuple[str, asyncio.TimerHandle]] = {}
        self._counts: Counter[str] = Counter()
        self._log = ThrottledLog(log, "unauthenticated sessions refused or closed")
        self._closing: set[asyncio.Task] = set()

    def admit(self, eio_sid: str, environ: dict, close: Callable[[str], Awaitable[None]]) -> bool:
        request = environ.get("aiohttp.request")
        address = client_address(request, self.hops) if request is not None else "unknown"
        if self._counts[address] >= self._per_address:
            self._log.note(address, "refused")
            return False
        timer = asyncio.get_running_loop().call_later(self._timeout, self._expire, eio_sid, close)
        self._pending[eio_sid] = (address, timer)
        self._counts[address] += 1
        return True

    def authenticated(self, eio_sid: str) -> None:
        self.gone(eio_sid)

    def gone(self, eio_sid: str) -> None:
        address, timer = self._pending.pop(eio_sid, (None, None))
        if address is None:
            return
        timer.cancel()
        self._counts[address] -= 1
        if self._counts[address] <= 0:
            del self._counts[address]

    def _expire(self, eio_sid: str, close: Callable[[str], Awaitable[None]]) -> None:
        address = self._pending.get(eio_sid, ("unknown",))[0]
        self.gone(eio_sid)
        self._log.note(address, "timedOut")
        task = asyncio.ensure_future(close(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


class NotConnected(Exception):
    """An event from an Engine.IO session whose socket has not connected (or was refused)."""


class GuardedServer(socketio.AsyncServer):
    """python-socketio's server, with every Engine.IO session admitted and timed by `PendingSessions`.

    It extends the two Engine.IO hooks python-socketio registers (`_handle_eio_connect` and
    `_handle_eio_disconnect`, python-socketio 5.18): python-socketio has no connect timeout of its own.
    """

    def __init__(self, *args: Any, pending: PendingSessions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending = pending
        self._protocol_errors = ThrottledLog(log, "protocol errors from a client")

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """A frame that is not a valid Socket.IO packet is counted (one log line a second per address, no traceback), and
        answered with an `invalid_request` ack when its ack id can be read; the connection stays up."""
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as error:
            await self._refuse_frame(eio_sid, data, error)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        if not (isinstance(data, list) and data and isinstance(data[0], str)):
            raise ValueError("an event frame is a JSON array starting with the event's name")
        if not self.manager.is_connected(self.manager.sid_from_eio_sid(eio_sid, namespace or "/"), namespace or "/"):
            raise NotConnected()
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _refuse_frame(self, eio_sid: str, data: Any, error: Exception) -> None:
        request = (self.environ.get(eio_sid) or {}).get("aiohttp.request")
        self._protocol_errors.note(client_address(request, self.pending.hops) if request is not None else "unknown", type(error).__name__)
        found = FRAME_ACK_ID.match(data) if isinstance(data, str) else None
        if found is None or found.group(2) is None:
            return
        if isinstance(error, NotConnected):
            refusal = AppError("unauthorized", "The socket is not authenticated: connect with a token first.", {"reason": "invalid_token"})
        else:
            refusal = AppError("invalid_request", "The frame is not a valid Socket.IO event: send [name, payload] as JSON.", {"fields": []})
        with contextlib.suppress(Exception):
            await self._send_packet(
                eio_sid, self.packet_class(packet.ACK, namespace=found.group(1) or "/", id=int(found.group(2)), data=[refusal.envelope()])
            )

    async def _handle_eio_connect(self, eio_sid: str, environ: dict) -> bool | None:
        if not self.pending.admit(eio_sid, environ, self.eio.disconnect):
            return False
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self.pending.gone(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)

    async def drop_transports(self, *, timeout: float) -> int:
        """Close every client's transport without a Socket.IO disconnect or an Engine.IO close packet; how many there were.

        Clients then see `transport close`, which socket.io-client and python-socketio's
        client treat as an accident and reconnect after, to another process or this one
        restarted. (A disconnect or close packet would tell them to stay away.) A
        websocket's writer is stopped, which closes the websocket; a polling session is
        ended, so its next poll is refused and the client reconnects.
        """
        sockets = list(self.eio.sockets.values())
        for socket in sockets:
            with contextlib.suppress(Exception):
                if not socket.upgraded:
                    await socket.close(wait=False, abort=True, reason=self.eio.reason.TRANSPORT_CLOSE)
                await socket.queue.put(None)
        deadline = time.monotonic() + timeout
        while any(not socket.closed for socket in sockets) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return len(sockets)

    def authenticated(self, sid: str) -> None:
        """The socket `sid` passed the connect check: its Engine.IO session is no longer pending."""
        self.pending.authenticated(self.manager.eio_sid_from_sid(sid, "/"))
