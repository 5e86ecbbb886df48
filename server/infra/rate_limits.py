"""Per-user budgets: writes in general, chat messages and typing in particular.

Moving windows from the `limits` library, kept in Redis when `REDIS_URL` is set (so every
process counts the same budget) and in memory otherwise. A refusal is `rate_limited` with
`details.retryAfter`, raised before the handler runs, so nothing is written.
"""

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from models.errors import AppError
from server.config import Settings

WRITES, CHAT = "writes", "chat"
"""The budgets an event may draw on (`@event(budget=…)`)."""
MAX_REMEMBERED = 100_000


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        storage = storage_from_string(f"async+{settings.redis_url}", implementation="redispy") if settings.redis_url else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)
        self._budgets: dict[str, tuple[RateLimitItem, ...]] = {
            WRITES: (RateLimitItemPerSecond(settings.writes_per_second), RateLimitItemPerMinute(settings.writes_per_minute)),
            CHAT: (RateLimitItemPerSecond(settings.chat_messages_per_window, settings.chat_window_seconds),),
        }
        self._typing = RateLimitItemPerSecond(1, settings.chat_typing_interval_seconds)
        self._refused_until: dict[tuple[str, str], float] = {}

    async def spend(self, budget: str, user_id: str) -> None:
        """One unit of the user's `budget`, or `rate_limited` when any of its windows is full.

        A refusal is remembered until its window frees a slot, and repeats are refused from
        memory without asking the limiter: a client that keeps flooding costs a dictionary
        lookup per event, not a round trip to Redis.
        """
        key = (budget, user_id)
        now = time.time()
        until = self._refused_until.get(key)
        if until is not None:
            if until > now:
                raise _limited(until - now)
            del self._refused_until[key]
        for item in self._budgets[budget]:
            if (wait := await self._hit(item, budget, user_id)) is not None:
                if len(self._refused_until) >= MAX_REMEMBERED:
                    self._refused_until = {k: at for k, at in self._refused_until.items() if at > now}
                self._refused_until[key] = now + wait
                raise _limited(wait)

    async def allow_typing(self, user_id: str, room_id: str) -> None:
        if (wait := await self._hit(self._typing, "chat-typing", user_id, room_id)) is not None:
            raise _limited(wait)

    async def _hit(self, item: RateLimitItem, *keys: str) -> float | None:
        """Count one; None when allowed, else the seconds until the window frees a slot."""
        if await self._limiter.hit(item, *keys):
            return None
        stats = await self._limiter.get_window_stats(item, *keys)
        return max(0.0, stats.reset_time - time.time())


def _limited(wait: float) -> AppError:
    return AppError("rate_limited", "Too many at once; wait a moment.", {"retryAfter": max(1, math.ceil(wait))})
