"""Emails, sent by jobs after the change that calls for them committed; a failed send is retried with growing delays.

A verification or reset email carries a fresh single-use token made when the job runs (only
its hash is stored), so a retry never needs a token kept in plain text: a token whose email
never went out just expires. A request never waits for, or fails with, its email.
"""

import logging
from urllib.parse import quote, urlencode

from bson import ObjectId

from models import users
from server.infra.mail import message

log = logging.getLogger(__name__)
RETRY_SECONDS = (5, 30, 120, 600, 1800)


async def verification(services, user_id: str, attempt: str = "0") -> None:
    """Job: a verification email with the link `PUBLIC_URL/api/auth/verify-email?token=…` (nothing if already verified)."""
    made = await services.accounts.verification_token(ObjectId(user_id))
    if made is None:
        return
    user, token = made
    link = f"{_public(services)}/api/auth/verify-email?token={quote(token)}"
    hours = services.settings.email_token_ttl_seconds // 3600
    text = f"Hello {user['name']},\n\nOpen this link to confirm that this email address is yours:\n\n{link}\n\nIt works once, within {hours} hours.\n"
    await _send(services, verification, (user_id,), attempt, user["email"], "Confirm your email address", text)


async def password_reset(services, email: str, attempt: str = "0") -> None:
    """Job: a reset email, if the address has an account and has not asked more than 3 times this hour (else nothing)."""
    made = await services.accounts.password_reset_token(email, count=attempt == "0")
    if made is None:
        return
    user, token = made
    app = services.settings.app_return_url
    where = (f"Open this link on your phone: {app}{'&' if '?' in app else '?'}{urlencode({'resetToken': token})}\n\nor enter this code"
             if app else "Enter this code")  # fmt: skip
    minutes = services.settings.reset_token_ttl_seconds // 60
    text = (f"Hello {user['name']},\n\nSomeone (we hope you) asked to reset the password of this account. {where} in the app:\n\n"
            f"{token}\n\nIt works once, within {minutes} minutes. If it was not you, ignore this email: nothing has changed.\n")  # fmt: skip
    await _send(services, password_reset, (email,), attempt, user["email"], "Reset your password", text)


async def password_changed(services, user_id: str, attempt: str = "0") -> None:
    """Job: tell the user their password changed (if it was not them, they know to act)."""
    user = await services.db[users.COLLECTION].find_one({"_id": ObjectId(user_id)})
    if user is None:
        return
    text = (f"Hello {user['name']},\n\nThe password of your account was just changed, and your other signed-in devices were signed out.\n"
            "If this was not you, reset your password now from the sign-in screen.\n")  # fmt: skip
    await _send(services, password_changed, (user_id,), attempt, user["email"], "Your password was changed", text)


async def _send(services, job, args: tuple[str, ...], attempt: str, to: str, subject: str, text: str) -> None:
    mail = message(sender=services.settings.mail_from, to=to, subject=subject, text=text)
    try:
        await services.mailer.send(mail)
    except Exception as error:
        tries = int(attempt) + 1
        log.warning("mail not sent", extra={"subject": subject, "attempt": tries, "error": type(error).__name__})
        if tries <= len(RETRY_SECONDS):
            await services.jobs.enqueue_in(RETRY_SECONDS[tries - 1], job, *args, str(tries))
        else:
            log.error("mail given up", extra={"subject": subject, "attempts": tries})


def _public(services) -> str:
    return services.settings.public_url.rstrip("/")
