"""Sign-up, sign-in (local and Firebase), refresh, sign-out, email verification and password reset over HTTP: the only way to get tokens."""

import html
from typing import Annotated, Literal
from urllib.parse import urlencode

from aiohttp import web
from bson import ObjectId
from pydantic import Field

from models import referrals, roles, users
from models.accounts import Client
from models.errors import AppError, ok
from models.sessions import SessionsEnded
from server import pushes
from server.gateway.events import Email, NewPassword, Payload, Visible
from server.http.client_address import client_address
from server.http.files import bearer
from server.http.middleware import json_body
from workers import mail as mail_jobs

routes = web.RouteTableDef()


class RegisterBody(Payload):
    name: Annotated[str, Field(min_length=1, max_length=100), Visible]
    email: Email
    password: NewPassword
    role: Literal[*roles.SELF_REGISTERED]
    referralCode: str | None = Field(default=None, min_length=1, max_length=32, description="someone's code: they and you are rewarded later")


class LoginBody(Payload):
    email: Email
    password: str = Field(min_length=1, max_length=1024)


class RefreshBody(Payload):
    refreshToken: str = Field(min_length=1, max_length=256)


class TokenBody(Payload):
    token: str = Field(min_length=1, max_length=256)


class ForgotBody(Payload):
    email: Email


class ResetBody(Payload):
    token: str = Field(min_length=1, max_length=256)
    password: NewPassword


class FirebaseBody(Payload):
    idToken: str = Field(min_length=1, max_length=8192)
    role: Literal[*roles.SELF_REGISTERED] | None = None
    name: Annotated[str, Field(min_length=1, max_length=100), Visible] | None = None


def _client(request: web.Request) -> Client:
    settings = request.app["services"].settings
    return Client(client_address(request, settings.trusted_proxy_hops), request.headers.get("User-Agent"))


@routes.post("/api/auth/register")
async def register(request: web.Request) -> web.Response:
    """Also sends the verification email (a job, after the account committed)."""
    body = await json_body(request, RegisterBody)
    services = request.app["services"]
    fields = body.model_dump(exclude={"referralCode"})
    session = await services.accounts.register(**fields, referral_code=body.referralCode, client=_client(request))
    await services.jobs.enqueue_in(0, mail_jobs.verification, session["user"]["id"])
    return web.json_response(ok(session), status=201)


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await json_body(request, LoginBody)
    session = await request.app["services"].accounts.login(email=body.email, password=body.password, client=_client(request))
    return web.json_response(ok(session))


@routes.post("/api/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    """A reused token ends its session everywhere (its sockets get `session:revoked`) and is refused like any bad one."""
    body = await json_body(request, RefreshBody)
    services = request.app["services"]
    outcome = await services.accounts.refresh(body.refreshToken)
    if isinstance(outcome, SessionsEnded):
        await services.revocations.end(outcome)
    if not isinstance(outcome, dict):
        raise AppError("invalid_token", "The refresh token is not valid; sign in again.")
    return web.json_response(ok(outcome))


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """Ends the session: its refresh tokens are revoked and its live sockets get `session:revoked` and are closed."""
    body = await json_body(request, RefreshBody)
    services = request.app["services"]
    await services.revocations.end(await services.accounts.logout(body.refreshToken))
    return web.json_response(ok({}))


@routes.get("/api/auth/verify-email")
async def verify_email_link(request: web.Request) -> web.Response:
    """The link in the verification email: a small page, or a redirect to `APP_RETURN_URL?verified=1` (or `verified=0`)."""
    services = request.app["services"]
    try:
        user = await services.accounts.verify_email(request.query.get("token", "")[:256])
    except AppError:
        return _page(services.settings.app_return_url, {"verified": "0"}, "This link has expired", "Ask for a new verification email in the app.")
    await verified(services, user)
    return _page(services.settings.app_return_url, {"verified": "1"}, "Email verified", "Thank you. You can return to the app.")


@routes.post("/api/auth/verify-email")
async def verify_email(request: web.Request) -> web.Response:
    """For apps that open the link themselves: `{token}` → `{user}`; unknown, used or expired → `400 invalid_token`."""
    body = await json_body(request, TokenBody)
    services = request.app["services"]
    user = await services.accounts.verify_email(body.token)
    return web.json_response(ok(await verified(services, user)))


@routes.post("/api/auth/verify-email/resend")
async def resend_verification(request: web.Request) -> web.Response:
    """Bearer access token; at most one a minute (`rate_limited` with `retryAfter`); `202` (the email goes out in the background)."""
    services = request.app["services"]
    identity = await bearer(request)
    await services.accounts.allow_verification_resend(identity.user_id)
    await services.jobs.enqueue_in(0, mail_jobs.verification, identity.user_id)
    return web.json_response(ok({"sent": True}), status=202)


@routes.post("/api/auth/password/forgot")
async def password_forgotten(request: web.Request) -> web.Response:
    """Always `202` with the same body, whether or not the email has an account: the lookup and the email happen in a job."""
    body = await json_body(request, ForgotBody)
    await request.app["services"].jobs.enqueue_in(0, mail_jobs.password_reset, body.email)
    return web.json_response(ok({"accepted": True}), status=202)


@routes.post("/api/auth/password/reset")
async def password_reset(request: web.Request) -> web.Response:
    """`{token, password}` from the reset email: new password, email verified, every session ended (sockets get
    `session:revoked`); it does not sign in."""
    body = await json_body(request, ResetBody)
    services = request.app["services"]
    user, ended = await services.accounts.reset_password(body.token, body.password)
    await services.revocations.end(ended)
    await verified(services, user, tell=False)
    await services.jobs.enqueue_in(0, mail_jobs.password_changed, str(user["_id"]))
    return web.json_response(ok({"reset": True}))


@routes.post("/api/auth/firebase")
async def firebase_sign_in(request: web.Request) -> web.Response:
    """`{idToken, role?, name?}` → the same `{user, accessToken, refreshToken, expiresIn}` as login (see `models/accounts.py`)."""
    services = request.app["services"]
    if services.firebase is None:
        raise AppError("not_enabled", "Firebase sign-in is not enabled on this server.")
    body = await json_body(request, FirebaseBody)
    claims = await services.firebase.verify(body.idToken)
    session = await services.accounts.firebase_sign_in(claims, role=body.role, name=body.name, client=_client(request))
    if session["user"]["emailVerified"]:
        await pushes.money.referral_rewarded(
            services, await referrals.pay_waiting(services.db, ObjectId(session["user"]["id"]), services.settings.referrals)
        )
    return web.json_response(ok(session))


async def verified(services, user: dict, *, tell: bool = True) -> dict:
    """After an email was verified: the referral rewards that waited for it, and (`tell`) `me:updated` to the user's sockets."""
    await pushes.money.referral_rewarded(services, await referrals.pay_waiting(services.db, user["_id"], services.settings.referrals))
    return await pushes.account.profile_changed(services, user) if tell else {"user": users.public(user)}


def _page(return_url: str | None, query: dict[str, str], title: str, text: str) -> web.Response:
    """A redirect to the app (`return_url` with `query`) when configured, else a tiny HTML page."""
    if return_url:
        return web.Response(status=302, headers={"Location": return_url + ("&" if "?" in return_url else "?") + urlencode(query)})
    page = f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
    return web.Response(text=page, content_type="text/html")


@routes.get("/r/{code}")
async def referral_link(request: web.Request) -> web.Response:
    """A shared referral link: to the app (`APP_RETURN_URL?ref=<code>`) when configured, else a page showing the code."""
    code = referrals.normalized(request.match_info["code"])[:32]
    return _page(request.app["services"].settings.app_return_url, {"ref": code}, "You were invited", f"Sign up in the app with the code {code}.")
