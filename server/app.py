"""The application factory: one aiohttp app carrying HTTP routes and Socket.IO."""

import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
import socketio
from aiohttp import web

import handlers  # noqa: F401  (registers every event)
from models.accounts import Accounts, AuthPolicy
from server import http_api
from server.config import Settings
from server.data_dir import jwt_secret
from server.database import open_database
from server.events import registry
from server.services import Services
from server.sockets import SocketGateway

log = logging.getLogger(__name__)

MAX_SOCKET_MESSAGE_BYTES = 1_000_000


def auth_policy(settings: Settings) -> AuthPolicy:
    return AuthPolicy(
        jwt_secret=jwt_secret(settings.jwt_secret, settings.data_dir),
        access_token_ttl_seconds=settings.access_token_ttl_seconds,
        refresh_token_ttl_seconds=settings.refresh_token_ttl_seconds,
        bcrypt_rounds=settings.bcrypt_rounds,
        login_max_failures=settings.login_max_failures,
        login_max_failures_per_ip=settings.login_max_failures_per_ip,
        login_failure_window_seconds=settings.login_failure_window_seconds,
    )


def socket_server(settings: Settings) -> socketio.AsyncServer:
    """With `REDIS_URL`, emits reach sockets held by every server process."""
    manager = socketio.AsyncRedisManager(settings.redis_url) if settings.redis_url else None
    return socketio.AsyncServer(
        async_mode="aiohttp", client_manager=manager, cors_allowed_origins="*",
        max_http_buffer_size=MAX_SOCKET_MESSAGE_BYTES,
    )


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[http_api.envelope_and_log], client_max_size=MAX_SOCKET_MESSAGE_BYTES)
    app.add_routes(http_api.routes)
    sio = socket_server(settings)
    sio.attach(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        redis = aioredis.from_url(settings.redis_url, socket_timeout=2) if settings.redis_url else None
        try:
            async with open_database(settings) as db:
                services = Services(settings, db, Accounts(db, auth_policy(settings)), sio, redis)
                gateway = SocketGateway(sio, registry, services)
                gateway.install()
                app["services"], app["gateway"] = services, gateway
                log.info("server ready", extra={"host": settings.host, "port": settings.port, "redis": bool(redis)})
                yield
        finally:
            if redis is not None:
                await redis.aclose()

    async def drain_sockets(app: web.Application) -> None:
        await app["gateway"].drain(settings.shutdown_timeout_seconds)
        await sio.shutdown()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(drain_sockets)
    return app
