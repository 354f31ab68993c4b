"""Handing due runs to workers: arq jobs on Redis, or a wake-up of the in-process runner.

A job carries only the run id; its id includes the pickup number, so a job for the same pickup is
never queued twice, and a lost job (Redis flushed, worker killed) is simply queued again by the sweeper.
"""

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import structlog
from arq.connections import ArqRedis

logger = structlog.get_logger(__name__)

RUN_TASK = "run_hog_flow"

# Enqueues in flight at once: enough to overlap Redis round-trips without flooding the pool.
SCHEDULE_CHUNK = 50


def job_id(run_id: UUID, pickups: int, retry_key: str | None = None) -> str:
    base = f"hogflow-run:{run_id}:{pickups}"
    return f"{base}:{retry_key}" if retry_key else base


class Scheduler(Protocol):
    async def schedule(self, run_id: UUID, pickups: int, when: datetime, retry_key: str | None = None) -> None:
        """`retry_key` gives a stuck run a fresh job id: the old one may be held by a job that died with its worker."""


class ArqScheduler:
    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def schedule(self, run_id: UUID, pickups: int, when: datetime, retry_key: str | None = None) -> None:
        await self.redis.enqueue_job(
            RUN_TASK,
            str(run_id),
            _job_id=job_id(run_id, pickups, retry_key),
            _defer_until=when,
            _queue_name=self.queue_name,
        )


class WakeUpScheduler:
    """The embedded runner polls the database; scheduling only wakes its run pool early.

    `wake` is the batch loop's event (set by `WakeUpBatchQueue`); `on_schedule` is the run pool's kick.
    """

    def __init__(self, on_schedule: Callable[[], None] | None = None) -> None:
        self.wake = asyncio.Event()
        self.on_schedule = on_schedule

    async def schedule(self, run_id: UUID, pickups: int, when: datetime, retry_key: str | None = None) -> None:
        if self.on_schedule is not None:
            self.on_schedule()


async def schedule_runs(scheduler: Scheduler, run_ids: Sequence[UUID], when: datetime) -> None:
    """Queue new runs' first pickup (0), `SCHEDULE_CHUNK` at a time, once the transaction that created
    them has committed. The one way in for event, webhook, batch and scheduled runs.

    A failure is only logged, never raised: the runs are due in PostgreSQL and the sweeper queues them
    anyway, a few seconds later, so a Redis hiccup must not fail the request or the batch slice."""
    for start in range(0, len(run_ids), SCHEDULE_CHUNK):
        chunk = run_ids[start : start + SCHEDULE_CHUNK]
        results = await asyncio.gather(
            *(scheduler.schedule(run_id, 0, when) for run_id in chunk), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            logger.warning("app.worker.enqueue_failed", failed=len(failures), error=str(failures[0]))


async def schedule_woken_runs(scheduler: Scheduler, runs: Sequence[tuple[UUID, int]], when: datetime) -> None:
    """Queue parked runs an event woke. Their deferred job (same pickup number) is still queued for
    the deadline, so the wake-up needs a job id of its own. Failures are logged: the runs are due in
    PostgreSQL and the sweeper queues them after its grace."""
    retry_key = f"wake-{int(when.timestamp() * 1000)}"
    results = await asyncio.gather(
        *(scheduler.schedule(run_id, pickups, when, retry_key=retry_key) for run_id, pickups in runs),
        return_exceptions=True,
    )
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        logger.warning("app.worker.wake_failed", failed=len(failures), error=str(failures[0]))
