"""Jobs run by the server itself, on its own event loop, when there are no RQ workers.

That is the embedded-database mode: the database lives inside the server process, so a
separate worker could not reach it safely. Timed jobs here do not survive a restart;
the periodic sweeps (which also run once at start) find their work again.
"""

import asyncio
import logging

from workers.jobs import JOBS

log = logging.getLogger(__name__)


class LocalJobs:
    def __init__(self) -> None:
        self._services = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task] = set()

    def start(self, services, periodic: dict[str, float]) -> None:
        self._services = services
        for name, interval in periodic.items():
            self._spawn(self._every(name, interval))

    async def enqueue_in(self, delay: float, name: str, *args: str) -> None:
        def fire() -> None:
            self._timers.discard(timer)
            self._spawn(self._run(name, args))

        timer = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(timer)

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _every(self, name: str, interval: float) -> None:
        while True:
            await self._run(name, ())
            await asyncio.sleep(interval)

    async def _run(self, name: str, args: tuple) -> None:
        try:
            await JOBS[name](self._services, *args)
        except Exception:
            log.exception("job failed", extra={"job": name})

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
