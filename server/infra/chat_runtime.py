"""What chat needs beyond the database and the rate limits: per-room send order in this process."""

import asyncio
import weakref


class ChatRuntime:
    def __init__(self) -> None:
        self._room_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def room_lock(self, room_id: str) -> asyncio.Lock:
        """Held from a message's commit to its push, so one process pushes a room's messages in `seq` order."""
        lock = self._room_locks.get(room_id)
        if lock is None:
            lock = self._room_locks[room_id] = asyncio.Lock()
        return lock
