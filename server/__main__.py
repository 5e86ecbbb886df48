"""`python -m server [serve | worker | cron | create-admin EMAIL PASSWORD [--name NAME] [--promote] | audit-ledger | reconcile | protocol-doc]`."""

import argparse
import asyncio
import logging
import signal
import sys
import time

import redis.asyncio as aioredis
from aiohttp import web

from models import users
from models.accounts import Accounts
from models.audit import audit
from models.errors import AppError
from models.sessions import SessionsEnded
from server import logs
from server.app import CLOSE_RESERVE_SECONDS, create_app
from server.config import Settings
from server.gateway import asyncapi
from server.gateway.protocol_doc import render_into
from server.infra.database import open_database
from server.infra.revocations import RedisRevocations
from server.services import auth_policy, open_services
from workers import reconciliation, rq_runner
from workers.local import LocalJobs

log = logging.getLogger("server")


def serve(settings: Settings) -> None:
    app = create_app(settings)
    web.run_app(app, host=settings.host, port=settings.port, print=None, shutdown_timeout=CLOSE_RESERVE_SECONDS / 2, access_log=None)
    if "shutdown_started" in app:
        log.info("shutdown finished", extra={
            "socketsClosed": app.get("sockets_closed", 0), "seconds": round(time.monotonic() - app["shutdown_started"], 3),
        })  # fmt: skip


async def create_admin(settings: Settings, email: str, password: str, name: str | None, promote: bool) -> bool:
    """Refuses an existing account unless `promote`; a promotion ends every session the account had, everywhere."""
    async with open_database(settings) as db:
        try:
            ready = await Accounts(db, auth_policy(settings)).create_admin(email=email, password=password, name=name, promote=promote)
        except AppError as refused:
            print(
                f"refused: an account with {email} already exists (role {refused.details['role']}). If it is yours and you mean "
                "to make it an admin, run again with --promote: its password is replaced and every session it has is ended.",
                file=sys.stderr,
            )
            return False
    admin = users.public(ready.user)
    if ready.previous is None:
        print(f"admin created: {admin['email']} ({admin['id']})")
        return True
    closed = await _end_live_sockets(settings, ready.ended)
    print(
        f"existing account promoted to admin: {admin['email']} ({admin['id']})\n"
        f"  it belonged to: {ready.previous['name']!r}, a {ready.previous['role']} since {ready.previous['createdAt']:%Y-%m-%d %H:%M} UTC\n"
        f"  its password is now the one given here; {len(ready.ended.session_ids)} session(s) ended (refresh tokens revoked); {closed}"
    )
    return True


async def _end_live_sockets(settings: Settings, ended: SessionsEnded) -> str:
    """Live sockets are held by the server processes: reach them through Redis, or say why none can be open."""
    if settings.redis_url:
        redis = aioredis.from_url(settings.redis_url)
        try:
            await RedisRevocations(redis).end(ended)
        finally:
            await redis.aclose()
        return "live sockets were told to close on every server process (through Redis)"
    if settings.embedded_db:
        return "no socket can be open: the embedded server is stopped while this command runs"
    return (
        f"without REDIS_URL this command cannot reach a running server's sockets; any still open keep their old role "
        f"and close within ACCESS_TOKEN_TTL_SECONDS ({settings.access_token_ttl_seconds} s), after which their tokens are refused"
    )


async def audit_ledger(settings: Settings) -> bool:
    async with open_database(settings) as db:
        report = await audit(db)
    print(report.summary())
    return report.clean


async def reconcile(settings: Settings) -> bool:
    """Once, now: what the periodic job does; True when the books agreed with Stripe."""
    async with open_services(settings, NoSockets(), LocalJobs()) as services:
        findings = await reconciliation.reconcile(services)
    print(findings.summary())
    return not findings.disagreed


class NoSockets:
    """A command has no sockets to push to; what it changes, clients read on their next request."""

    async def emit(self, event: str, data, *, room) -> None:
        return


def protocol_doc() -> None:
    render_into("docs/protocol.md")
    asyncapi.write()
    print("docs/protocol.md and docs/asyncapi.yaml updated")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m server")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP + Socket.IO server (the default)")
    commands.add_parser("worker", help="run an RQ worker for the timed jobs (needs MONGODB_URI and REDIS_URL)")
    commands.add_parser("cron", help="enqueue the periodic jobs on schedule (needs MONGODB_URI and REDIS_URL); run one")
    admin = commands.add_parser("create-admin", help="create an admin (an existing account only with --promote)")
    admin.add_argument("email")
    admin.add_argument("password")
    admin.add_argument("--name")
    admin.add_argument("--promote", action="store_true", help="make an existing account an admin: new password, every session ended")
    commands.add_parser("audit-ledger", help="recompute every balance from the ledger; exit 1 on any mismatch")
    commands.add_parser("reconcile", help="match deposits and transfers with Stripe once; exit 1 when they disagreed")
    commands.add_parser("protocol-doc", help="regenerate the event tables in docs/protocol.md and docs/asyncapi.yaml")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file that cannot grow fails a write; it does not kill the process
    settings = Settings()
    logs.configure(settings.log_level)
    if args.command == "create-admin":
        if len(args.password) < 8:
            parser.error("the password must be at least 8 characters")
        sys.exit(0 if asyncio.run(create_admin(settings, args.email, args.password, args.name, args.promote)) else 1)
    elif args.command == "audit-ledger":
        sys.exit(0 if asyncio.run(audit_ledger(settings)) else 1)
    elif args.command == "reconcile":
        sys.exit(0 if asyncio.run(reconcile(settings)) else 1)
    elif args.command == "protocol-doc":
        protocol_doc()
    elif args.command in ("worker", "cron"):
        if not settings.rq_jobs:
            parser.error("RQ workers need MONGODB_URI and REDIS_URL; with the embedded database the server runs its jobs itself")
        (rq_runner.work if args.command == "worker" else rq_runner.cron)(settings)
    else:
        serve(settings)


if __name__ == "__main__":
    main(sys.argv[1:])
