"""Handing due runs to workers: arq jobs on Redis, or a wake-up of the in-process runner.

A job carries only the run id; its id includes the pickup number, so a job for the same pickup is
never queued twice, and a lost job (Redis flushed, worker killed) is simply queued again by the sweeper.
"""

import asyncio
from datetime import datetime
from typing import Protocol
from uuid import UUID

from arq.connections import ArqRedis

RUN_TASK = "run_hog_flow"


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
    """The embedded runner polls the database; scheduling only wakes it early."""

    def __init__(self) -> None:
        self.wake = asyncio.Event()

    async def schedule(self, run_id: UUID, pickups: int, when: datetime, retry_key: str | None = None) -> None:
        self.wake.set()
