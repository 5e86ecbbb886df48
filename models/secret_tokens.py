"""Opaque secrets a client is handed once (refresh tokens, email links): 256 random bits, stored only as a SHA-256 hash."""

import hashlib
import secrets


def mint() -> tuple[str, str]:
    """A fresh token, and the digest to store in its place."""
    token = secrets.token_urlsafe(32)
    return token, digest(token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
