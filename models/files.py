"""Uploaded files in GridFS, and who may read them.

A file may be read by its uploader, by admins, and by the participants of a task whose
submission attaches it. The type is decided from the content, never from the name or
the client's declared type.
"""

from typing import Any

import filetype
from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.asynchronous.grid_file import AsyncGridOut
from gridfs.errors import NoFile
from pymongo.asynchronous.client_session import AsyncClientSession

from models import roles, tasks
from models.db import Database
from models.errors import AppError
from models.ids import object_id

FILES = "fs.files"
ACCEPTED = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "application/pdf",
        "application/zip",
        "video/mp4",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
SNIFF_BYTES = 8192


def content_type(data: bytes) -> str:
    """The detected type, or `unsupported_type`; text counts when it is UTF-8 without NUL bytes."""
    kind = filetype.guess(data[:SNIFF_BYTES])
    if kind is not None and kind.mime in ACCEPTED:
        return kind.mime
    if kind is None and b"\0" not in data:
        try:
            data.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError:
            pass
    raise AppError("unsupported_type", "This kind of file is not accepted.", {"detected": kind.mime if kind else None})


def public(file_id: ObjectId, name: str, size: int, mime: str) -> dict[str, Any]:
    return {"fileId": str(file_id), "name": name, "size": size, "contentType": mime}


async def store(db: Database, owner_id: str, name: str, data: bytes) -> dict[str, Any]:
    mime = content_type(data)
    file_id = ObjectId()
    bucket = AsyncGridFSBucket(db.mongo)
    await db.outside_transaction(
        lambda: bucket.upload_from_stream_with_id(
            file_id,
            name,
            data,
            metadata={"ownerId": ObjectId(owner_id), "contentType": mime},
        )
    )
    return public(file_id, name, len(data), mime)


async def owned_by(db: Database, session: AsyncClientSession, file_ids: list[str], owner_id: str) -> list[ObjectId]:
    """The ids, if every one is a file this user uploaded; otherwise `not_found` (others' files are not theirs to attach)."""
    keys = list(dict.fromkeys(object_id(file_id, "file") for file_id in file_ids))
    found = await db[FILES].count_documents({"_id": {"$in": keys}, "metadata.ownerId": ObjectId(owner_id)}, session=session)
    if found != len(keys):
        raise AppError("not_found", "Attach only files you uploaded (POST /api/files).")
    return keys


async def owned_pdf(db: Database, session: AsyncClientSession, file_id: str, owner_id: str) -> str:
    """The id, if it is a PDF this user uploaded (a résumé); otherwise `not_found`."""
    key = object_id(file_id, "file")
    if not await db[FILES].count_documents(
        {"_id": key, "metadata.ownerId": ObjectId(owner_id), "metadata.contentType": "application/pdf"}, session=session
    ):
        raise AppError("not_found", "The résumé must be a PDF you uploaded (POST /api/files).")
    return str(key)


async def open_for(db: Database, file_id: str, user_id: str, role: str, *, public: bool = False) -> AsyncGridOut:
    """`public`: a shown profile refers to the file (`models.profiles.shows_file`), so anyone signed in may read it."""
    key = object_id(file_id, "file")
    try:
        stream = await AsyncGridFSBucket(db.mongo).open_download_stream(key)
    except NoFile:
        raise AppError("not_found", "No such file.") from None
    if public:
        return stream
    if not roles.is_admin(role) and str(stream.metadata["ownerId"]) != user_id and not await _attached_for(db, key, user_id):
        raise AppError("not_found", "No such file.")
    return stream


async def _attached_for(db: Database, file_id: ObjectId, user_id: str) -> bool:
    participant = {"$or": [{"ownerId": ObjectId(user_id)}, {"contractorId": ObjectId(user_id)}]}
    return await db[tasks.COLLECTION].count_documents({"submission.fileIds": file_id, **participant}, limit=1) > 0
