"""Handing batch jobs to workers: an arq job on Redis, or a wake-up of the in-process runner.

An arq job carries only the batch job id. Its arq id includes a token (`queued`, or the time the
job's lease ends), so the sweeper and a slice that requeues itself never queue the same work twice,
while a job whose worker died gets a fresh arq id once its lease has expired.
"""

import asyncio
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from arq.connections import ArqRedis

from app.worker.scheduling import ArqScheduler, Scheduler

BATCH_TASK = "run_hog_flow_batch_job"
SCHEDULES_TASK = "fire_hog_flow_schedules"


def lease_token(lease_expires_at: datetime | None) -> str:
    return "queued" if lease_expires_at is None else str(int(lease_expires_at.timestamp() * 1_000_000))


def arq_job_id(job_id: UUID, token: str) -> str:
    return f"hogflow-batch:{job_id}:{token}"


class BatchQueue(Protocol):
    async def enqueue(self, job_id: UUID, token: str) -> None: ...


class ArqBatchQueue:
    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name

    async def enqueue(self, job_id: UUID, token: str) -> None:
        await self.redis.enqueue_job(
            BATCH_TASK, str(job_id), _job_id=arq_job_id(job_id, token), _queue_name=self.queue_name
        )


class WakeUpBatchQueue:
    """Without Redis the embedded runner polls the database; queueing only wakes it early."""

    def __init__(self, scheduler: Any) -> None:
        self.wake: asyncio.Event | None = getattr(scheduler, "wake", None)

    async def enqueue(self, job_id: UUID, token: str) -> None:
        if self.wake is not None:
            self.wake.set()


def batch_queue_for(scheduler: Scheduler) -> BatchQueue:
    """The batch queue that goes with the app's run scheduler."""
    if isinstance(scheduler, ArqScheduler):
        return ArqBatchQueue(scheduler.redis, scheduler.queue_name)
    return WakeUpBatchQueue(scheduler)
