"""Sign-up, sign-in, refresh and sign-out over HTTP: the only way to get tokens; everything else is events."""

from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, Field

from models import roles
from models.accounts import Client
from models.errors import AppError, ok
from models.sessions import SessionsEnded
from server.gateway.events import Payload
from server.http.client_address import client_address
from server.http.middleware import json_body

routes = web.RouteTableDef()

MAX_PASSWORD_BYTES = 72


def _bcrypt_sized(password: str) -> str:
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ValueError(f"must be at most {MAX_PASSWORD_BYTES} bytes")
    return password


Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
NewPassword = Annotated[str, Field(min_length=8), AfterValidator(_bcrypt_sized)]


class RegisterBody(Payload):
    name: str = Field(min_length=1, max_length=100)
    email: Email
    password: NewPassword
    role: Literal[*roles.SELF_REGISTERED]


class LoginBody(Payload):
    email: Email
    password: str = Field(min_length=1, max_length=1024)


class RefreshBody(Payload):
    refreshToken: str = Field(min_length=1, max_length=256)


def _client(request: web.Request) -> Client:
    settings = request.app["services"].settings
    return Client(client_address(request, settings.trusted_proxy_hops), request.headers.get("User-Agent"))


@routes.post("/api/auth/register")
async def register(request: web.Request) -> web.Response:
    body = await json_body(request, RegisterBody)
    session = await request.app["services"].accounts.register(**body.model_dump(), client=_client(request))
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
