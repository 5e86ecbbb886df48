"""What chat needs beyond the database: rate limits, per-room send order, and who is online.

Rate limits use the `limits` library's moving window, in Redis when `REDIS_URL` is set
(shared by all processes) and in memory otherwise. Presence counts each user's open
sockets: a Redis counter across processes, or a local one. A process that dies without
closing its sockets leaves its users counted online until they reconnect and leave.
"""

import asyncio
import math
import time
import weakref
from collections import Counter

import redis.asyncio as aioredis
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.storage import storage_from_string
from limits.aio.strategies import MovingWindowRateLimiter

from models.errors import AppError
from server.config import Settings


class ChatRuntime:
    def __init__(self, settings: Settings, redis: aioredis.Redis | None) -> None:
        storage = storage_from_string(f"async+{settings.redis_url}", implementation="redispy") if settings.redis_url else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._messages = RateLimitItemPerSecond(settings.chat_messages_per_window, settings.chat_window_seconds)
        self._typing = RateLimitItemPerSecond(1, settings.chat_typing_interval_seconds)
        self._redis = redis
        self._sockets: Counter[str] = Counter()
        self._room_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def allow_message(self, user_id: str) -> None:
        await self._hit(self._messages, "chat-message", user_id)

    async def allow_typing(self, user_id: str, room_id: str) -> None:
        await self._hit(self._typing, "chat-typing", user_id, room_id)

    def room_lock(self, room_id: str) -> asyncio.Lock:
        """Held from a message's commit to its push, so one process pushes a room's messages in `seq` order."""
        lock = self._room_locks.get(room_id)
        if lock is None:
            lock = self._room_locks[room_id] = asyncio.Lock()
        return lock

    async def socket_opened(self, user_id: str) -> bool:
        """True when this is the user's first open socket (anywhere)."""
        if self._redis is not None:
            return await self._redis.incr(f"presence:{user_id}") == 1
        self._sockets[user_id] += 1
        return self._sockets[user_id] == 1

    async def socket_closed(self, user_id: str) -> bool:
        """True when the user's last open socket closed."""
        if self._redis is not None:
            return await self._redis.decr(f"presence:{user_id}") <= 0
        self._sockets[user_id] -= 1
        if self._sockets[user_id] <= 0:
            del self._sockets[user_id]
            return True
        return False

    async def online(self, user_ids: list[str]) -> dict[str, bool]:
        if self._redis is not None:
            counts = await self._redis.mget([f"presence:{user}" for user in user_ids])
            return {user: int(count or 0) > 0 for user, count in zip(user_ids, counts, strict=True)}
        return {user: self._sockets[user] > 0 for user in user_ids}

    async def _hit(self, item: RateLimitItemPerSecond, *keys: str) -> None:
        if not await self._limiter.hit(item, *keys):
            stats = await self._limiter.get_window_stats(item, *keys)
            raise AppError("rate_limited", "Too many at once; wait a moment.", {"retryAfter": max(1, math.ceil(stats.reset_time - time.time()))})
