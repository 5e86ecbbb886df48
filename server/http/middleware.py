"""What every HTTP route shares: JSON bodies checked against a schema, errors as envelopes, one log line per request."""

import json
import logging
import time
import uuid

from aiohttp import web
from pydantic import BaseModel, ValidationError

from models.errors import AppError
from server.gateway.validation import invalid_request

log = logging.getLogger("server.http")


MAX_JSON_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32


def parse_json(raw: bytes) -> object:
    """A JSON document of at most `MAX_JSON_DEPTH` levels, or `invalid_request` (never a 500: deep nesting, huge numbers)."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise AppError("invalid_request", "The body must be a JSON object.", {"fields": []}) from None
    if _depth(document) > MAX_JSON_DEPTH:
        raise AppError("invalid_request", f"The body is nested deeper than {MAX_JSON_DEPTH} levels.", {"fields": []})
    return document


def _depth(document: object) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest


async def json_body[M: BaseModel](request: web.Request, model: type[M]) -> M:
    """The request's JSON object (at most `MAX_JSON_BYTES`) validated by `model`, or `invalid_request`."""
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise AppError("invalid_request", f"The body is larger than {MAX_JSON_BYTES} bytes.", {"fields": []})
    raw = await request.content.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise AppError("invalid_request", f"The body is larger than {MAX_JSON_BYTES} bytes.", {"fields": []})
    document = parse_json(raw)
    if not isinstance(document, dict):
        raise AppError("invalid_request", "The body must be a JSON object.", {"fields": []})
    try:
        return model.model_validate(document)
    except ValidationError as error:
        raise invalid_request(error) from None


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
    log.info(
        "request",
        extra={
            "route": f"{request.method} {request.path}",
            "status": response.status,
            "durationMs": round((time.perf_counter() - started) * 1000, 2),
            "errorId": error_id,
        },
    )
    return response
