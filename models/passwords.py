"""bcrypt hashing, off the event loop: one hash costs tens of milliseconds at cost 12."""

import asyncio
import functools

import bcrypt


async def hash_password(password: str, rounds: int) -> bytes:
    return await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(rounds))


async def verify_password(password: str, password_hash: bytes | None, rounds: int) -> bool:
    """Checks against a dummy hash when there is no user, so timing does not reveal which emails exist."""
    candidate = password_hash or _dummy_hash(rounds)
    matches = await asyncio.to_thread(bcrypt.checkpw, password.encode(), candidate)
    return matches and password_hash is not None


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"no such account", bcrypt.gensalt(rounds))
