"""File upload and download: HTTP because bodies are large and binary; both need `Authorization: Bearer`."""

import re

from aiohttp import BodyPartReader, web
from bson import ObjectId

from models import files, profiles
from models.accounts import Identity
from models.errors import AppError, ok

routes = web.RouteTableDef()
READ_CHUNK_BYTES = 256 * 1024
SAFE_NAME = re.compile(r"[^\w.\- ]+")


async def bearer(request: web.Request) -> Identity:
    """The same check as a socket connect: a valid token whose user exists and whose session is live."""
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
    return await request.app["services"].accounts.authenticate(token)


@routes.post("/api/files")
async def upload(request: web.Request) -> web.Response:
    """One multipart part named `file`, at most `MAX_UPLOAD_BYTES`; its type is read from its content."""
    claims = await bearer(request)
    services = request.app["services"]
    limit = services.settings.max_upload_bytes
    try:
        reader = await request.multipart()
        part = await reader.next()
    except (AssertionError, ValueError, KeyError):
        part = None
    if not isinstance(part, BodyPartReader) or part.name != "file":
        raise AppError(
            "invalid_request",
            "Send multipart/form-data with one part named `file`.",
            {"fields": [{"field": "file", "message": "missing", "type": "missing"}]},
        )
    data = bytearray()
    while chunk := await part.read_chunk(READ_CHUNK_BYTES):
        data += chunk
        if len(data) > limit:
            raise AppError("payload_too_large", "The file is too large.", {"maxBytes": limit})
    if not data:
        raise AppError("invalid_request", "The file is empty.", {"fields": [{"field": "file", "message": "empty", "type": "empty"}]})
    name = SAFE_NAME.sub("_", part.filename or "file")[:200]
    stored = await files.store(services.db, claims.user_id, name, bytes(data))
    return web.json_response(ok(stored), status=201)


@routes.get("/api/files/{file_id}")
async def download(request: web.Request) -> web.StreamResponse:
    """Only to the uploader, the participants of a task it was submitted to, and admins; anyone else gets `not_found`."""
    claims = await bearer(request)
    services = request.app["services"]
    file_id = request.match_info["file_id"]
    public = ObjectId.is_valid(file_id) and await profiles.shows_file(services.db, ObjectId(file_id), services.settings.plans)
    stream = await files.open_for(services.db, file_id, claims.user_id, claims.role, public=public)
    response = web.StreamResponse(
        headers={
            "Content-Type": stream.metadata["contentType"],
            "Content-Length": str(stream.length),
            "Content-Disposition": f'attachment; filename="{stream.filename}"',
            "X-Content-Type-Options": "nosniff",
        }
    )
    await response.prepare(request)
    while chunk := await stream.readchunk():
        await response.write(chunk)
    await response.write_eof()
    return response
