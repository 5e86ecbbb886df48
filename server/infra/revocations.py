"""Ending sessions on every server process: the sockets of a revoked session are told (`session:revoked`) and closed.

A session is revoked in the database first (so no new socket or HTTP request gets in);
this module then reaches the sockets already open. Without Redis there is one process
and the gateway is called directly. With Redis each process subscribes to one channel
and every revocation is published there, so the process holding a socket closes it,
whichever process (or `create-admin` command) revoked the session.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import orjson
import redis.asyncio as aioredis

from models.sessions import SessionsEnded

log = logging.getLogger(__name__)
CHANNEL = "marketplace:sessions-ended"

type Closer = Callable[[SessionsEnded], Awaitable[int]]


class LocalRevocations:
    """One process: the gateway that holds every socket closes them itself."""

    def __init__(self) -> None:
        self._close: Closer | None = None

    def serve(self, close: Closer) -> None:
        self._close = close

    async def end(self, ended: SessionsEnded | None) -> None:
        if ended is not None and self._close is not None:
            await self._close(ended)

    async def listen(self) -> None:
        return

    @property
    def subscribed(self) -> asyncio.Event:
        ready = asyncio.Event()
        ready.set()
        return ready

    async def aclose(self) -> None:
        return


class RedisRevocations:
    """Every process: publish each revocation, and close the local sockets of every revocation heard."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._close: Closer | None = None
        self._pubsub = None
        self.subscribed = asyncio.Event()

    def serve(self, close: Closer) -> None:
        self._close = close

    async def end(self, ended: SessionsEnded | None) -> None:
        if ended is not None:
            await self._redis.publish(
                CHANNEL,
                orjson.dumps(
                    {
                        "reason": ended.reason,
                        "sessionIds": list(ended.session_ids),
                        "userIds": list(ended.user_ids),
                    }
                ),
            )

    async def listen(self) -> None:
        """Runs for the life of a server process; a lost Redis connection is retried."""
        while True:
            try:
                self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await self._pubsub.subscribe(CHANNEL)
                self.subscribed.set()
                async for message in self._pubsub.listen():
                    heard = orjson.loads(message["data"])
                    if self._close is not None:
                        await self._close(SessionsEnded(heard["reason"], tuple(heard["sessionIds"]), tuple(heard["userIds"])))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("session revocation listener failed; resubscribing")
                await asyncio.sleep(1)

    async def aclose(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
