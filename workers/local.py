"""Jobs run by the server itself, on its own event loop, when there are no RQ workers.

That is the embedded-database mode: the database lives inside the server process, so a
separate worker could not reach it safely. Timed jobs here do not survive a restart;
the periodic sweeps (which also run once at start) find their work again.
"""

import asyncio
import logging

from workers.jobs import Job, name_of

log = logging.getLogger(__name__)


class LocalJobs:
    def __init__(self) -> None:
        self._services = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task] = set()

    def start(self, services, periodic: dict[Job, float]) -> None:
        self._services = services
        for job, interval in periodic.items():
            self._spawn(self._every(job, interval))

    async def enqueue_in(self, delay: float, job: Job, *args: str) -> None:
        def fire() -> None:
            self._timers.discard(timer)
            self._spawn(self._run(job, args))

        timer = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(timer)

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _every(self, job: Job, interval: float) -> None:
        while True:
            await self._run(job, ())
            await asyncio.sleep(interval)

    async def _run(self, job: Job, args: tuple) -> None:
        try:
            await job(self._services, *args)
        except Exception:
            log.exception("job failed", extra={"job": name_of(job)})

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
