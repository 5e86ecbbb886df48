"""Turning pydantic's validation errors into the protocol's `invalid_request`."""

from pydantic import ValidationError

from models.errors import AppError


def invalid_request(error: ValidationError) -> AppError:
    fields = [
        {"field": ".".join(str(part) for part in item["loc"]) or "(payload)", "message": item["msg"], "type": item["type"]}
        for item in error.errors(include_url=False, include_input=False)
    ]
    return AppError("invalid_request", "The payload is not valid.", {"fields": fields})
