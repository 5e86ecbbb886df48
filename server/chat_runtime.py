"""What chat needs beyond the database: rate limits and per-room send order.

Rate limits use the `limits` library's moving window, in Redis when `REDIS_URL` is set
(shared by all processes) and in memory otherwise.
"""

import asyncio
import math
import time
import weakref

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.storage import storage_from_string
from limits.aio.strategies import MovingWindowRateLimiter

from models.errors import AppError
from server.config import Settings


class ChatRuntime:
    def __init__(self, settings: Settings) -> None:
        storage = storage_from_string(f"async+{settings.redis_url}", implementation="redispy") if settings.redis_url else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._messages = RateLimitItemPerSecond(settings.chat_messages_per_window, settings.chat_window_seconds)
        self._typing = RateLimitItemPerSecond(1, settings.chat_typing_interval_seconds)
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

    async def _hit(self, item: RateLimitItemPerSecond, *keys: str) -> None:
        if not await self._limiter.hit(item, *keys):
            stats = await self._limiter.get_window_stats(item, *keys)
            raise AppError("rate_limited", "Too many at once; wait a moment.", {"retryAfter": max(1, math.ceil(stats.reset_time - time.time()))})
