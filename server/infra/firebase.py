"""Verifying Firebase ID tokens (Google, Facebook, GitHub, email/password sign-in through Firebase Authentication) with PyJWT.

Only RS256; the key must be one of Google's current public keys (the JWKS at
`FIREBASE_JWKS_URL`), kept as long as its `Cache-Control: max-age` says and fetched again
once when a token names a key we do not have (at most every `MIN_REFETCH_SECONDS`, so
made-up key ids cannot make us hammer Google). The claims are Firebase's documented
rules: `aud` is the project id, `iss` is `https://securetoken.google.com/<project id>`,
`exp` in the future, `iat` and `auth_time` in the past (60 s of clock skew allowed), and a
non-empty `sub` of at most 128 characters. Any failure is one `invalid_token`, with
nothing in it that would help an attacker.
"""

import asyncio
import logging
import re
import time
from typing import Any

import aiohttp
import jwt

from models.errors import AppError

log = logging.getLogger(__name__)
SKEW_SECONDS = 60
MIN_REFETCH_SECONDS = 10
DEFAULT_MAX_AGE_SECONDS = 3600


def _refused() -> AppError:
    return AppError("invalid_token", "The sign-in token is not valid.")


class FirebaseVerifier:
    def __init__(self, project_id: str, jwks_url: str) -> None:
        self.project_id = project_id
        self._jwks_url = jwks_url
        self._keys: dict[str, Any] = {}
        self._fresh_until = 0.0
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or `invalid_token`."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _refused() from None
        if header.get("alg") != "RS256" or not isinstance(header.get("kid"), str):
            raise _refused()
        key = await self._key(header["kid"])
        if key is None:
            raise _refused()
        try:
            claims = jwt.decode(
                token, key, algorithms=["RS256"], audience=self.project_id, issuer=f"https://securetoken.google.com/{self.project_id}",
                leeway=SKEW_SECONDS, options={"require": ["exp", "iat", "sub", "aud", "iss", "auth_time"]},
            )  # fmt: skip
        except jwt.InvalidTokenError:
            raise _refused() from None
        subject, auth_time = claims.get("sub"), claims.get("auth_time")
        if not isinstance(subject, str) or not 0 < len(subject) <= 128:
            raise _refused()
        if not isinstance(auth_time, int | float) or auth_time > time.time() + SKEW_SECONDS:
            raise _refused()
        return claims

    async def _key(self, kid: str) -> Any | None:
        async with self._lock:
            stale = time.monotonic() >= self._fresh_until
            unknown = kid not in self._keys and time.monotonic() - self._fetched_at >= MIN_REFETCH_SECONDS
            if stale or unknown:
                await self._fetch()
            found = self._keys.get(kid)
            return found

    async def _fetch(self) -> None:
        self._fetched_at = time.monotonic()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                async with http.get(self._jwks_url) as response:
                    response.raise_for_status()
                    document = await response.json(content_type=None)
                    max_age = re.search(r"max-age=(\d+)", response.headers.get("Cache-Control", ""))
            keys = jwt.PyJWKSet.from_dict(document)
        except Exception as error:
            log.warning("Firebase keys could not be fetched", extra={"error": type(error).__name__})
            return
        self._keys = {key.key_id: key.key for key in keys.keys if key.key_id}
        self._fresh_until = time.monotonic() + (int(max_age.group(1)) if max_age else DEFAULT_MAX_AGE_SECONDS)
