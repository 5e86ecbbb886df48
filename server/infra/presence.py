"""Who is online: a user is online while any of their sockets is open, in any server process.

Without Redis it is a count in this process. With Redis each process counts its own
sockets per user, as its field in the hash `presence:user:<id>`, and keeps a heartbeat key
that expires if the process dies. Small Lua scripts make "first socket anywhere" and
"last socket anywhere" one atomic step each, so two processes never both announce (or
both miss) the same change. A process that dies without closing its sockets is noticed
by the others once its heartbeat expires: they drop its counts and announce the users
who are offline now. Until then those users still count as online.
"""

import uuid
from collections import Counter

import redis.asyncio as aioredis

from server.gateway.rooms import PRESENCE_PROCESSES, presence_alive_key, presence_counts_key, presence_process_users_key

_SUM = """
local total = 0
for _, count in ipairs(redis.call('HVALS', KEYS[1])) do total = total + tonumber(count) end
return total
"""
_OPENED = "redis.call('HINCRBY', KEYS[1], ARGV[1], 1) redis.call('SADD', KEYS[2], ARGV[2])" + _SUM
_CLOSED = (
    """
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
end
"""
    + _SUM
)
_DROPPED = "if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end" + _SUM


class LocalPresence:
    """One process, no Redis: nothing to share and nothing to sweep."""

    def __init__(self) -> None:
        self._sockets: Counter[str] = Counter()

    async def opened(self, user_id: str) -> bool:
        """True when this is the user's first open socket."""
        self._sockets[user_id] += 1
        return self._sockets[user_id] == 1

    async def closed(self, user_id: str) -> bool:
        """True when the user's last open socket closed."""
        self._sockets[user_id] -= 1
        if self._sockets[user_id] > 0:
            return False
        del self._sockets[user_id]
        return True

    async def online(self, user_ids: list[str]) -> dict[str, bool]:
        return {user: self._sockets[user] > 0 for user in user_ids}

    async def heartbeat(self) -> list[str]:
        return []

    async def retire(self) -> None:
        pass


class RedisPresence:
    def __init__(self, redis: aioredis.Redis, heartbeat_seconds: float) -> None:
        self._redis = redis
        self._alive_ms = int(heartbeat_seconds * 3 * 1000)
        self.process = uuid.uuid4().hex
        self._opened = redis.register_script(_OPENED)
        self._closed = redis.register_script(_CLOSED)
        self._dropped = redis.register_script(_DROPPED)

    async def opened(self, user_id: str) -> bool:
        return await self._opened(keys=[presence_counts_key(user_id), presence_process_users_key(self.process)], args=[self.process, user_id]) == 1

    async def closed(self, user_id: str) -> bool:
        return await self._closed(keys=[presence_counts_key(user_id), presence_process_users_key(self.process)], args=[self.process, user_id]) == 0

    async def online(self, user_ids: list[str]) -> dict[str, bool]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for user in user_ids:
                pipe.hvals(presence_counts_key(user))
            counts = await pipe.execute()
        return {user: sum(map(int, values)) > 0 for user, values in zip(user_ids, counts, strict=True)}

    async def heartbeat(self) -> list[str]:
        """Renew this process's heartbeat and sweep up after dead processes; returns the users now offline."""
        await self._redis.set(presence_alive_key(self.process), 1, px=self._alive_ms)
        await self._redis.sadd(PRESENCE_PROCESSES, self.process)
        offline = []
        for process in await self._redis.smembers(PRESENCE_PROCESSES):
            process = process.decode()
            if process == self.process or await self._redis.exists(presence_alive_key(process)):
                continue
            for user in await self._redis.smembers(presence_process_users_key(process)):
                if await self._dropped(keys=[presence_counts_key(user.decode())], args=[process]) == 0:
                    offline.append(user.decode())
            await self._redis.delete(presence_process_users_key(process))
            await self._redis.srem(PRESENCE_PROCESSES, process)
        return offline

    async def retire(self) -> None:
        """A clean stop, after its sockets closed: stop the heartbeat now, so the others sweep up whatever is left at once."""
        await self._redis.delete(presence_alive_key(self.process))
