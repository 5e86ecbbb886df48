"""Socket.IO wiring: connections checked against live sessions, unauthenticated sessions bounded, expiry, revocation and dispatch."""

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import socketio
from pydantic import BaseModel, Field, ValidationError

from models import db, roles
from models.accounts import Identity
from models.sessions import SessionsEnded
from models.errors import AppError, ok
from server.chat_pushes import PRESENCE
from server.client_address import client_address
from server.config import Settings
from server.events import NoPayload, Registry, push
from server.services import Services
from server.validation import invalid_request

log = logging.getLogger("server.events")
guard_log = logging.getLogger("server.sessions")


class Revoked(BaseModel):
    reason: str = Field(description="`logout`, `token_reuse` (a used refresh token came back: sign in again), `promoted` (the account was made an admin) or `suspended` (an admin's account was frozen)")


SESSION_EXPIRED = push("session:expired", NoPayload, "The access token ran out; the server disconnects right after. Reconnect with a fresh token.")
SESSION_REVOKED = push("session:revoked", Revoked, "This socket's session was ended (sign-out, or an account change); the server disconnects right after. Sign in again; the old tokens are refused.")


@dataclass(slots=True)
class Connection:
    """One authenticated socket: who it is and when its token runs out."""

    sid: str
    identity: Identity
    expiry: asyncio.TimerHandle | None = None

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    @property
    def role(self) -> str:
        return self.identity.role


@dataclass(slots=True)
class EventContext:
    """What a handler knows about the call: the caller's connection and the services."""

    connection: Connection
    gateway: "SocketGateway"

    @property
    def services(self) -> Services:
        return self.gateway.services

    async def renew(self, identity: Identity) -> None:
        await self.gateway.renew(self.connection, identity)

    @property
    def user_id(self) -> str:
        return self.connection.user_id

    @property
    def role(self) -> str:
        return self.connection.role


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
        self._hops = settings.trusted_proxy_hops
        self._pending: dict[str, tuple[str, asyncio.TimerHandle]] = {}
        self._counts: Counter[str] = Counter()
        self._log = ThrottledLog(guard_log, "unauthenticated sessions refused or closed")
        self._closing: set[asyncio.Task] = set()

    def admit(self, eio_sid: str, environ: dict, close: Callable[[str], Awaitable[None]]) -> bool:
        request = environ.get("aiohttp.request")
        address = client_address(request, self._hops) if request is not None else "unknown"
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


class GuardedServer(socketio.AsyncServer):
    """python-socketio's server, with every Engine.IO session admitted and timed by `PendingSessions`.

    It extends the two Engine.IO hooks python-socketio registers (`_handle_eio_connect` and
    `_handle_eio_disconnect`, python-socketio 5.18): python-socketio has no connect timeout of its own.
    """

    def __init__(self, *args: Any, pending: PendingSessions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending = pending

    async def _handle_eio_connect(self, eio_sid: str, environ: dict) -> bool | None:
        if not self.pending.admit(eio_sid, environ, self.eio.disconnect):
            return False
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self.pending.gone(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)


@dataclass(slots=True)
class SocketGateway:
    """Owns the live connections and routes every event through the registry."""

    sio: GuardedServer
    registry: Registry
    services: Services
    connections: dict[str, Connection] = field(default_factory=dict)
    in_flight: set[asyncio.Task] = field(default_factory=set)

    def install(self) -> None:
        """Plain functions, not bound methods: python-socketio inspects the handler on every event."""

        async def connect(sid: str, environ: dict, auth: Any) -> None:
            await self.on_connect(sid, auth)

        async def disconnect(sid: str, reason: str) -> None:
            await self.on_disconnect(sid)

        async def any_event(name: str, sid: str, *args: Any) -> dict[str, Any]:
            return await self.dispatch(name, sid, *args)

        self.sio.on("connect", connect)
        self.sio.on("disconnect", disconnect)
        self.sio.on("*", any_event)
        self.services.revocations.serve(self.end_sessions)

    async def on_connect(self, sid: str, auth: Any) -> None:
        """The token must verify, its user exist, its session be live and its role still stand (two reads, once per connection)."""
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            identity = await self.services.accounts.authenticate(token)
        except AppError:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized") from None
        self.sio.pending.authenticated(self.sio.manager.eio_sid_from_sid(sid, "/"))
        connection = Connection(sid, identity)
        self.connections[sid] = connection
        await self.renew(connection, identity)
        if await self.services.presence.opened(identity.user_id):
            await self.sio.emit(PRESENCE, {"userId": identity.user_id, "online": True}, room=f"presence:{identity.user_id}")

    async def on_disconnect(self, sid: str) -> None:
        connection = self.connections.pop(sid, None)
        if connection is None:
            return
        if connection.expiry:
            connection.expiry.cancel()
        if await self.services.presence.closed(connection.user_id):
            await self._went_offline(connection.user_id)

    async def keep_presence(self) -> None:
        """Runs for the life of the process: the heartbeat that says it is alive, and the sweep after dead ones."""
        every = self.services.settings.presence_heartbeat_seconds
        while True:
            try:
                for user_id in await self.services.presence.heartbeat():
                    await self._went_offline(user_id)
            except Exception:
                log.exception("presence heartbeat failed")
            await asyncio.sleep(every)

    async def _went_offline(self, user_id: str) -> None:
        await self.sio.emit(PRESENCE, {"userId": user_id, "online": False}, room=f"presence:{user_id}")

    async def renew(self, connection: Connection, identity: Identity) -> None:
        """Adopt a (fresh) identity: rooms follow its role, the expiry timer its token's lifetime."""
        connection.identity = identity
        await self.sio.enter_room(connection.sid, f"user:{identity.user_id}")
        if roles.is_admin(identity.role):
            await self.sio.enter_room(connection.sid, "admins")
        if connection.expiry:
            connection.expiry.cancel()
        delay = (identity.expires_at - datetime.now(UTC)).total_seconds()
        connection.expiry = asyncio.get_running_loop().call_later(max(delay, 0), self._start_expiry, connection.sid)

    def _start_expiry(self, sid: str) -> None:
        """Tracked like a handler, so the task is not garbage-collected and shutdown waits for it."""
        task = asyncio.ensure_future(self.expire(sid))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)

    async def expire(self, sid: str) -> None:
        await self.sio.emit(SESSION_EXPIRED, {}, to=sid)
        await self.sio.disconnect(sid)

    async def end_sessions(self, ended: SessionsEnded) -> int:
        """Tell and close this process's sockets of the ended sessions (or users); how many were closed."""
        sessions, users = set(ended.session_ids), set(ended.user_ids)
        doomed = [connection.sid for connection in list(self.connections.values())
                  if connection.identity.session_id in sessions or connection.user_id in users]
        for sid in doomed:
            await self.sio.emit(SESSION_REVOKED, {"reason": ended.reason}, to=sid)
            await self.sio.disconnect(sid)
        return len(doomed)

    async def dispatch(self, name: str, sid: str, *args: Any) -> dict[str, Any]:
        """Every client event lands here; the ack is always an envelope, never an exception."""
        started = time.perf_counter()
        task = asyncio.current_task()
        self.in_flight.add(task)
        connection = self.connections.get(sid)
        error_id = None
        try:
            result = ok(await self._run(name, connection, args))
        except AppError as error:
            result = error.envelope()
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("event failed", extra={"event": name, "userId": connection and connection.user_id, "errorId": error_id})
            result = AppError("internal", "Something went wrong on our side.", {"errorId": error_id}).envelope()
        finally:
            self.in_flight.discard(task)
        if log.isEnabledFor(logging.INFO):
            log.info("event", extra={
                "event": name, "userId": connection and connection.user_id,
                "ok": result["ok"], "code": None if result["ok"] else result["error"]["code"],
                "durationMs": round((time.perf_counter() - started) * 1000, 2), "errorId": error_id,
            })
        return result

    async def _run(self, name: str, connection: Connection | None, args: tuple) -> Any:
        if connection is None:
            raise AppError("unauthorized", "The socket is not authenticated.")
        spec = self.registry.events.get(name)
        if spec is None:
            raise AppError("unknown_event", f"There is no event named {name!r}.")
        if connection.role not in spec.roles:
            raise AppError("forbidden", "Your role may not do this.")
        if spec.budget is not None:
            await self.services.limits.spend(spec.budget, connection.user_id)
        if len(args) > 1 or (args and not isinstance(args[0], dict) and args[0] is not None):
            raise AppError("invalid_request", "The payload must be one JSON object.", {"fields": []})
        try:
            payload = spec.payload.model_validate(args[0] if args and args[0] is not None else {})
        except ValidationError as error:
            raise invalid_request(error) from None
        db.writer.set(connection.user_id)
        return await spec.handler(EventContext(connection, self), payload)

    async def drain(self, timeout: float) -> None:
        """Let in-flight handlers finish (bounded), then close every socket."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=timeout)
        await asyncio.gather(*(self.sio.disconnect(sid) for sid in list(self.connections)))
