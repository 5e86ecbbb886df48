"""Jobs through RQ, for deployments with a shared MongoDB (`MONGODB_URI`) and `REDIS_URL`.

The server enqueues (`RQJobs`); `python -m server worker` runs RQ workers (with RQ's
scheduler for delayed jobs) and `python -m server cron` runs RQ's `CronScheduler` for the
periodic sweeps. A job is `run(name, *args)`: RQ runs the coroutine with `asyncio.run`
in the worker, which connects to MongoDB, Redis and Stripe for the job's duration.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import socketio
from redis import Redis
from rq import Queue, Worker
from rq.cron import CronScheduler

from server.config import Settings
from server.services import open_services
from workers.jobs import JOBS, Job, name_of, periodic


class RQJobs:
    def __init__(self, settings: Settings) -> None:
        self._queue = Queue(settings.rq_queue, connection=Redis.from_url(settings.redis_url))

    def start(self, services, periodic: dict[Job, float]) -> None:
        """Periodic jobs belong to the `cron` process, not to each server."""

    async def enqueue_in(self, delay: float, job: Job, *args: str) -> None:
        """RQ keeps due times in whole seconds, rounded down; rounding up here means a job never runs early."""
        due = datetime.now(UTC) + timedelta(seconds=delay)
        if due.microsecond:
            due = due.replace(microsecond=0) + timedelta(seconds=1)
        await asyncio.to_thread(self._queue.enqueue_at, due, run, name_of(job), *args)

    async def stop(self) -> None:
        self._queue.connection.close()


async def run(name: str, *args: str) -> None:
    settings = Settings()
    emitter = socketio.AsyncRedisManager(settings.redis_url, write_only=True)
    async with open_services(settings, emitter, RQJobs(settings), prepare_database=False) as services:
        await JOBS[name](services, *args)


def work(settings: Settings) -> None:
    connection = Redis.from_url(settings.redis_url)
    Worker([Queue(settings.rq_queue, connection=connection)], connection=connection).work(with_scheduler=True)


def cron(settings: Settings) -> None:
    scheduler = CronScheduler(connection=Redis.from_url(settings.redis_url))
    for job, interval in periodic(settings).items():
        scheduler.register(run, settings.rq_queue, args=(name_of(job),), interval=max(1, round(interval)))
    scheduler.start()
