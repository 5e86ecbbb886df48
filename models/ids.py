"""Ids arrive from clients as strings; a malformed one is simply an object that does not exist."""

from bson import ObjectId

from models.errors import AppError


def object_id(value: str | ObjectId, what: str = "object") -> ObjectId:
    if isinstance(value, ObjectId):
        return value
    if not (isinstance(value, str) and ObjectId.is_valid(value)):
        raise AppError("not_found", f"No such {what}.")
    return ObjectId(value)
