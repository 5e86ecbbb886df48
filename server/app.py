"""The application factory: one aiohttp app carrying HTTP routes and Socket.IO."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import socketio
from aiohttp import web

import handlers  # noqa: F401  (registers every event)
from server.config import Settings
from server.gateway.dispatch import SocketGateway
from server.gateway.events import registry
from server.gateway.guard import GuardedServer, PendingSessions
from server.http import auth, files, health, stripe
from server.http.middleware import envelope_and_log
from server.services import open_services
from workers.jobs import periodic
from workers.local import LocalJobs
from workers.rq_runner import RQJobs

log = logging.getLogger(__name__)

MAX_SOCKET_MESSAGE_BYTES = 1_000_000
CLOSE_RESERVE_SECONDS = 1.5
"""Of `SHUTDOWN_TIMEOUT_SECONDS`, what is kept for closing transports, connections and the database after handlers."""


def socket_server(settings: Settings) -> GuardedServer:
    """With `REDIS_URL`, emits reach sockets held by every server process."""
    manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    return GuardedServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins="*",
        max_http_buffer_size=MAX_SOCKET_MESSAGE_BYTES,
        pending=PendingSessions(settings),
        logger=logging.getLogger("socketio.server"),
        engineio_logger=logging.getLogger("engineio.server"),
    )


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[envelope_and_log], client_max_size=MAX_SOCKET_MESSAGE_BYTES)
    for area in (auth, health, stripe, files):
        app.add_routes(area.routes)
    sio = socket_server(settings)
    sio.attach(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        jobs = RQJobs(settings) if settings.rq_jobs else LocalJobs()
        async with open_services(settings, sio, jobs) as services:
            gateway = SocketGateway(sio, registry, services)
            gateway.install()
            app["services"], app["gateway"] = services, gateway
            jobs.start(services, periodic(settings))
            presence = asyncio.create_task(gateway.keep_presence())
            revocations = asyncio.create_task(services.revocations.listen())
            await asyncio.wait_for(services.revocations.subscribed.wait(), 10)
            log.info(
                "server ready",
                extra={
                    "host": settings.host,
                    "port": settings.port,
                    "redis": bool(settings.redis_url),
                    "payments": services.stripe is not None,
                    "jobs": type(jobs).__name__,
                },
            )
            yield
            presence.cancel()
            revocations.cancel()
            await services.revocations.aclose()
            await services.presence.retire()

    async def drain_sockets(app: web.Application) -> None:
        """Deploy-safe: finish what is in flight, then drop every transport without a goodbye, so clients reconnect by themselves.

        The whole shutdown fits in `SHUTDOWN_TIMEOUT_SECONDS`: handlers get it less
        `CLOSE_RESERVE_SECONDS`, which is left for closing transports and the database.
        """
        started = time.monotonic()
        app["shutdown_started"] = started
        log.info("shutdown started", extra={"sockets": len(app["gateway"].connections), "timeoutSeconds": settings.shutdown_timeout_seconds})
        await app["gateway"].drain(max(settings.shutdown_timeout_seconds - CLOSE_RESERVE_SECONDS, 0.1))
        app["sockets_closed"] = await sio.drop_transports(timeout=CLOSE_RESERVE_SECONDS / 2)
        await sio.shutdown()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(drain_sockets)
    return app
