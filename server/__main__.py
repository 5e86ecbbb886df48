"""`python -m server [serve | worker | cron | create-admin EMAIL PASSWORD [--name NAME] | audit-ledger | protocol-doc]`."""

import argparse
import asyncio
import sys

from aiohttp import web

from models import users
from models.accounts import Accounts
from models.audit import audit
from server import logs
from server.app import create_app
from server.config import Settings
from server.database import open_database
from server.protocol_doc import render_into
from server.services import auth_policy
from workers import rq_runner


def serve(settings: Settings) -> None:
    web.run_app(
        create_app(settings), host=settings.host, port=settings.port, print=None,
        shutdown_timeout=settings.shutdown_timeout_seconds, access_log=None,
    )


async def create_admin(settings: Settings, email: str, password: str, name: str | None) -> None:
    async with open_database(settings) as db:
        admin = await Accounts(db, auth_policy(settings)).create_admin(email=email, password=password, name=name)
    print(f"admin ready: {users.public(admin)['email']} ({admin['_id']})")


async def audit_ledger(settings: Settings) -> bool:
    async with open_database(settings) as db:
        report = await audit(db)
    print(report.summary())
    return report.clean


def protocol_doc() -> None:
    render_into("docs/protocol.md")
    print("docs/protocol.md updated")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m server")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="run the HTTP + Socket.IO server (the default)")
    commands.add_parser("worker", help="run an RQ worker for the timed jobs (needs MONGODB_URI and REDIS_URL)")
    commands.add_parser("cron", help="enqueue the periodic jobs on schedule (needs MONGODB_URI and REDIS_URL); run one")
    admin = commands.add_parser("create-admin", help="create an admin, or promote an existing account")
    admin.add_argument("email")
    admin.add_argument("password")
    admin.add_argument("--name")
    commands.add_parser("audit-ledger", help="recompute every balance from the ledger; exit 1 on any mismatch")
    commands.add_parser("protocol-doc", help="regenerate the event tables in docs/protocol.md")
    args = parser.parse_args(argv)

    settings = Settings()
    logs.configure(settings.log_level)
    if args.command == "create-admin":
        if len(args.password) < 8:
            parser.error("the password must be at least 8 characters")
        asyncio.run(create_admin(settings, args.email, args.password, args.name))
    elif args.command == "audit-ledger":
        sys.exit(0 if asyncio.run(audit_ledger(settings)) else 1)
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
