"""Socket.IO wiring: connections checked against live sessions, token expiry, revocation, and event dispatch."""

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import socketio
from pydantic import ValidationError

from models import roles
from models.accounts import Client, Identity
from models.client_requests import ClientRequest
from models.db import writer
from models.errors import AppError, ok
from models.sessions import SessionsEnded
from server.gateway.events import Registry
from server.gateway.guard import GuardedServer
from server.gateway.rooms import ADMINS, user_room
from server.gateway.validation import invalid_request
from server.http.client_address import client_address
from server.pushes import account, chat
from server.services import Services

log = logging.getLogger("server.events")


@dataclass(slots=True)
class Connection:
    """One authenticated socket: who it is and when its token runs out."""

    sid: str
    identity: Identity
    client: Client
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
    client_request: ClientRequest | None = None
    """The `clientRequestId` of a retryable event with the payload's digest; models stamp what they create with it."""

    @property
    def services(self) -> Services:
        return self.gateway.services

    async def renew(self, identity: Identity) -> None:
        await self.gateway.renew(self.connection, identity)

    async def join(self, room: str) -> None:
        """This socket (not the user's others) joins a room, e.g. to watch a task."""
        await self.gateway.sio.enter_room(self.connection.sid, room)

    async def leave(self, room: str) -> None:
        await self.gateway.sio.leave_room(self.connection.sid, room)

    @property
    def user_id(self) -> str:
        return self.connection.user_id

    @property
    def role(self) -> str:
        return self.connection.role

    @property
    def client(self) -> Client:
        """Where the socket connected from (for limits and the session record)."""
        return self.connection.client


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
            await self.on_connect(sid, auth, environ)

        async def disconnect(sid: str, reason: str) -> None:
            await self.on_disconnect(sid)

        async def any_event(name: str, sid: str, *args: Any) -> dict[str, Any]:
            return await self.dispatch(name, sid, *args)

        self.sio.on("connect", connect)
        self.sio.on("disconnect", disconnect)
        self.sio.on("*", any_event)
        self.services.revocations.serve(self.end_sessions)

    async def on_connect(self, sid: str, auth: Any, environ: dict) -> None:
        """The token must verify, its user exist, its session be live and its role still stand (two reads, once per connection)."""
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            identity = await self.services.accounts.authenticate(token)
        except AppError as refused:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized", {"code": refused.details["reason"]}) from None
        self.sio.authenticated(sid)
        request = environ.get("aiohttp.request")
        address = client_address(request, self.services.settings.trusted_proxy_hops) if request is not None else "unknown"
        connection = Connection(sid, identity, Client(address, request.headers.get("User-Agent") if request is not None else None))
        self.connections[sid] = connection
        await self.renew(connection, identity)
        if await self.services.presence.opened(identity.user_id):
            await chat.presence_changed(self.services, identity.user_id, True)

    async def on_disconnect(self, sid: str) -> None:
        connection = self.connections.pop(sid, None)
        if connection is None:
            return
        if connection.expiry:
            connection.expiry.cancel()
        if await self.services.presence.closed(connection.user_id):
            await chat.presence_changed(self.services, connection.user_id, False)

    async def keep_presence(self) -> None:
        """Runs for the life of the process: the heartbeat that says it is alive, and the sweep after dead ones."""
        every = self.services.settings.presence_heartbeat_seconds
        while True:
            try:
                for user_id in await self.services.presence.heartbeat():
                    await chat.presence_changed(self.services, user_id, False)
            except Exception:
                log.exception("presence heartbeat failed")
            await asyncio.sleep(every)

    async def renew(self, connection: Connection, identity: Identity) -> None:
        """Adopt a (fresh) identity: rooms follow its role, the expiry timer its token's lifetime."""
        connection.identity = identity
        await self.sio.enter_room(connection.sid, user_room(identity.user_id))
        if roles.is_admin(identity.role):
            await self.sio.enter_room(connection.sid, ADMINS)
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
        await account.session_expired(self.services, sid)
        await self.sio.disconnect(sid)

    async def end_sessions(self, ended: SessionsEnded) -> int:
        """Tell and close this process's sockets of the ended sessions (or users); how many were closed."""
        sessions, users = set(ended.session_ids), set(ended.user_ids)
        doomed = [
            connection.sid
            for connection in list(self.connections.values())
            if connection.identity.session_id in sessions or connection.user_id in users
        ]
        for sid in doomed:
            await account.session_revoked(self.services, sid, ended.reason)
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
            log.info(
                "event",
                extra={
                    "event": name,
                    "userId": connection and connection.user_id,
                    "ok": result["ok"],
                    "code": None if result["ok"] else result["error"]["code"],
                    "durationMs": round((time.perf_counter() - started) * 1000, 2),
                    "errorId": error_id,
                },
            )
        return result

    async def _run(self, name: str, connection: Connection | None, args: tuple) -> Any:
        """Authorize, spend the rate budget, validate, then run the handler on behalf of the caller."""
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
        writer.set(connection.user_id)
        request = None
        if spec.retryable and payload.clientRequestId is not None:
            request = ClientRequest.of(
                name, connection.user_id, payload.clientRequestId, payload.model_dump(mode="json", exclude={"clientRequestId"})
            )
        return await spec.handler(EventContext(connection, self, request), payload)

    async def drain(self, timeout: float) -> None:
        """Let in-flight handlers finish, for at most `timeout` seconds (the transports are dropped after, by the server)."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=timeout)
