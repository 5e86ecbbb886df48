"""What handlers and jobs may use, opened once per process and handed to every event and job."""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis

from models.accounts import Accounts, AuthPolicy
from models.db import Database
from models.errors import AppError
from server.config import Settings
from server.infra.chat_runtime import ChatRuntime
from server.infra.data_dir import jwt_secret
from server.infra.database import open_database
from server.infra.firebase import FirebaseVerifier
from server.infra.mail import OutboxMailer, SmtpMailer, mailer_for
from server.infra.presence import LocalPresence, RedisPresence
from server.infra.rate_limits import RateLimits
from server.infra.revocations import LocalRevocations, RedisRevocations
from server.infra.stripe_api import StripeApi


class Emitter(Protocol):
    """The Socket.IO server in a web process, a write-only Redis manager in a worker."""

    async def emit(self, event: str, data: Any, *, room: str) -> None: ...


class Jobs(Protocol):
    """`workers.local.LocalJobs` or `workers.rq_runner.RQJobs`; a job is passed as its function (see `workers.jobs`)."""

    def start(self, services: "Services", periodic: dict[Callable, float]) -> None: ...
    async def enqueue_in(self, delay: float, job: Callable[..., Awaitable[None]], *args: str) -> None: ...
    async def stop(self) -> None: ...


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    accounts: Accounts
    sio: Emitter
    redis: aioredis.Redis | None
    stripe: StripeApi | None
    jobs: Jobs
    chat: ChatRuntime
    presence: LocalPresence | RedisPresence
    limits: RateLimits
    revocations: LocalRevocations | RedisRevocations
    mailer: SmtpMailer | OutboxMailer
    firebase: FirebaseVerifier | None

    def require_payments(self) -> None:
        """Refuse with `payments_unavailable` before anything changes when no Stripe key is configured."""
        if self.stripe is None:
            raise AppError("payments_unavailable", "Payments are not configured on this server.")

    def payments(self) -> StripeApi:
        self.require_payments()
        return self.stripe

    def billing(self) -> StripeApi:
        """Stripe for plans: `plans_unavailable` without Stripe or without both plans' price ids."""
        if self.stripe is None or not self.settings.plans.available:
            raise AppError("plans_unavailable", "Plans are not configured on this server.")
        return self.stripe


def auth_policy(settings: Settings) -> AuthPolicy:
    return AuthPolicy(
        jwt_secret=jwt_secret(settings.jwt_secret, settings.data_dir),
        access_token_ttl_seconds=settings.access_token_ttl_seconds,
        refresh_token_ttl_seconds=settings.refresh_token_ttl_seconds,
        bcrypt_rounds=settings.bcrypt_rounds,
        login_max_failures=settings.login_max_failures,
        login_max_failures_per_ip=settings.login_max_failures_per_ip,
        login_failure_window_seconds=settings.login_failure_window_seconds,
        email_token_ttl_seconds=settings.email_token_ttl_seconds,
        reset_token_ttl_seconds=settings.reset_token_ttl_seconds,
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings, sio: Emitter, jobs: Jobs, *, prepare_database: bool = True) -> AsyncIterator[Services]:
    redis = aioredis.from_url(settings.redis_url, socket_timeout=2) if settings.redis_url else None
    stripe = StripeApi(settings.stripe_secret_key, settings.stripe_api_base) if settings.stripe_secret_key else None
    try:
        async with open_database(settings, prepare=prepare_database) as db:
            try:
                presence = RedisPresence(redis, settings.presence_heartbeat_seconds) if redis is not None else LocalPresence()
                revocations = RedisRevocations(redis) if redis is not None else LocalRevocations()
                yield Services(
                    settings,
                    db,
                    Accounts(db, auth_policy(settings)),
                    sio,
                    redis,
                    stripe,
                    jobs,
                    ChatRuntime(),
                    presence,
                    RateLimits(settings),
                    revocations,
                    mailer_for(settings.smtp_url, settings.data_dir),
                    FirebaseVerifier(settings.firebase_project_id, settings.firebase_jwks_url) if settings.firebase_project_id else None,
                )
            finally:
                await jobs.stop()
    finally:
        if stripe is not None:
            await stripe.close()
        if redis is not None:
            await redis.aclose()
