"""Short-lived JWT access tokens (HS256) carrying the user id, the role and the session they were issued for.

A token's signature and lifetime are checked here; whether its user and session still
exist, and whether the role still stands, is `Accounts.authenticate`'s business.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from models.errors import AppError

ALGORITHM = "HS256"
EXPIRED, INVALID, REVOKED = "token_expired", "invalid_token", "session_revoked"
"""Why a token was refused (`details.reason`, and `connect_error` `data.code`): refresh it; sign in again; sign in again."""


@dataclass(frozen=True, slots=True)
class Claims:
    user_id: str
    role: str
    session_id: str
    expires_at: datetime


def issue(user_id: str, role: str, session_id: str, *, secret: str, ttl_seconds: int) -> str:
    now = datetime.now(UTC)
    payload = {"sub": user_id, "role": role, "sid": session_id, "iat": now, "exp": now + timedelta(seconds=ttl_seconds), "typ": "access"}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify(token: object, *, secret: str) -> Claims:
    if not isinstance(token, str) or not token:
        raise AppError("unauthorized", "An access token is required.", {"reason": INVALID})
    try:
        payload = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "role", "sid", "exp"]})
    except jwt.ExpiredSignatureError:
        raise AppError("unauthorized", "The access token has expired; refresh it.", {"reason": EXPIRED}) from None
    except jwt.InvalidTokenError:
        raise AppError("unauthorized", "The access token is not valid.", {"reason": INVALID}) from None
    if payload.get("typ") != "access" or not all(isinstance(payload[claim], str) for claim in ("sub", "role", "sid")):
        raise AppError("unauthorized", "The access token is not valid.", {"reason": INVALID})
    return Claims(payload["sub"], payload["role"], payload["sid"], datetime.fromtimestamp(payload["exp"], UTC))
