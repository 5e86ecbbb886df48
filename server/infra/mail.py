"""Outgoing mail: through SMTP (`SMTP_URL`, with `aiosmtplib`), or into `DATA_DIR/outbox/` as `.eml` files in development.

`SMTP_URL` is `smtp://user:password@host:port` (plain, or `?starttls=1`), or `smtps://…`
for implicit TLS. Without it each message is written as one RFC 5322 file whose name
starts with the UTC time, so they sort, and a log line says where (never the message's
links or tokens). Sending happens in jobs (`workers/mail.py`), after the change that
caused it committed; a failure is retried there and never fails a request.
"""

import logging
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

log = logging.getLogger(__name__)
SMTP_TIMEOUT_SECONDS = 20


def message(*, sender: str, to: str, subject: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, to, subject
    mail["Date"], mail["Message-ID"] = formatdate(localtime=False, usegmt=True), make_msgid(domain="marketplace.local")
    mail.set_content(text)
    return mail


class SmtpMailer:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        options = parse_qs(parts.query)
        self._params = {
            "hostname": parts.hostname or "localhost",
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "use_tls": parts.scheme == "smtps",
            "start_tls": True if options.get("starttls", ["0"])[0] in ("1", "true") else False,
            "timeout": SMTP_TIMEOUT_SECONDS,
        }

    async def send(self, mail: EmailMessage) -> None:
        await aiosmtplib.send(mail, **self._params)
        log.info("mail sent", extra={"subject": mail["Subject"]})


class OutboxMailer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, mail: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}-{uuid.uuid4().hex[:8]}.eml"
        path.write_bytes(bytes(mail))
        log.info("mail written to the outbox (no SMTP_URL)", extra={"subject": mail["Subject"], "file": str(path)})


def mailer_for(smtp_url: str | None, data_dir: Path) -> SmtpMailer | OutboxMailer:
    return SmtpMailer(smtp_url) if smtp_url else OutboxMailer(data_dir / "outbox")
