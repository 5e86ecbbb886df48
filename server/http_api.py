"""HTTP routes: only what must be HTTP (sign-in and health) lives here; the rest is events."""

import json
import logging
import time
import uuid
from typing import Annotated, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from models import roles
from models.accounts import Client
from models.sessions import SessionsEnded
from models.errors import AppError, ok
from server.client_address import client_address
from server.events import Payload
from server.validation import invalid_request

log = logging.getLogger("server.http")
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


async def _body[M: BaseModel](request: web.Request, model: type[M]) -> M:
    try:
        document = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AppError("invalid_request", "The body must be a JSON object.", {"fields": []}) from None
    if not isinstance(document, dict):
        raise AppError("invalid_request", "The body must be a JSON object.", {"fields": []})
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise invalid_request(error) from None


def _client(request: web.Request) -> Client:
    settings = request.app["services"].settings
    return Client(client_address(request, settings.trusted_proxy_hops), request.headers.get("User-Agent"))


@routes.post("/api/auth/register")
async def register(request: web.Request) -> web.Response:
    body = await _body(request, RegisterBody)
    session = await request.app["services"].accounts.register(**body.model_dump(), client=_client(request))
    return web.json_response(ok(session), status=201)


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    body = await _body(request, LoginBody)
    session = await request.app["services"].accounts.login(email=body.email, password=body.password, client=_client(request))
    return web.json_response(ok(session))


@routes.post("/api/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    """A reused token ends its session everywhere (its sockets get `session:revoked`) and is refused like any bad one."""
    body = await _body(request, RefreshBody)
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
    body = await _body(request, RefreshBody)
    services = request.app["services"]
    await services.revocations.end(await services.accounts.logout(body.refreshToken))
    return web.json_response(ok({}))


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response(ok({"status": "up"}))


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    services = request.app["services"]
    checks = {"mongodb": await _reachable(services.db.mongo.command("ping"))}
    if services.redis is not None:
        checks["redis"] = await _reachable(services.redis.ping())
    ready = all(checks.values())
    return web.json_response({"ok": ready, "data": {"checks": checks}} if ready else
                             AppError("not_ready", "A dependency is unreachable.", {"checks": checks}).envelope(),
                             status=200 if ready else 503)


async def _reachable(probe) -> bool:
    try:
        await probe
        return True
    except Exception:
        return False


@web.middleware
async def envelope_and_log(request: web.Request, handler) -> web.StreamResponse:
    """Errors become envelopes with their status; every request gets one log line."""
    started = time.perf_counter()
    error_id = None
    try:
        response = await handler(request)
    except AppError as error:
        response = web.json_response(error.envelope(), status=error.status)
        if "retryAfter" in error.details:
            response.headers["Retry-After"] = str(error.details["retryAfter"])
    except web.HTTPException as error:
        code = "not_found" if error.status == 404 else "invalid_request"
        response = web.json_response(AppError(code, error.reason).envelope(), status=error.status)
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        log.exception("request failed", extra={"route": request.path, "errorId": error_id})
        response = web.json_response(AppError("internal", "Something went wrong on our side.", {"errorId": error_id}).envelope(), status=500)
    log.info("request", extra={
        "route": f"{request.method} {request.path}", "status": response.status,
        "durationMs": round((time.perf_counter() - started) * 1000, 2), "errorId": error_id,
    })
    return response
