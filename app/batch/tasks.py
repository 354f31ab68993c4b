"""Batch work for the arq worker pool (a task and a cron) and for the embedded runner (a loop step)."""

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from arq import cron
from arq.cron import CronJob
from arq.worker import Function, func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.batch.queue import BATCH_TASK, SCHEDULES_TASK, ArqBatchQueue, BatchQueue, lease_token
from app.batch.resolver import BatchJobRunner, BatchOptions
from app.batch.schedules import fire_due_schedules
from app.config import Settings
from app.db.repositories.batch_jobs import BatchJobRepository
from app.db.session import session_scope
from app.observability.errors import operator_error
from app.worker.scheduling import Scheduler

logger = structlog.get_logger(__name__)


def batch_options(settings: Settings) -> BatchOptions:
    return BatchOptions(
        page_size=settings.batch_page_size,
        lease=timedelta(seconds=settings.batch_lease_seconds),
        slice_seconds=settings.batch_slice_seconds,
        max_audience_size=settings.batch_max_audience_size,
    )


async def sweep_batch_jobs(sessionmaker: async_sessionmaker[AsyncSession], queue: BatchQueue, now: datetime) -> int:
    """Queue every job nobody works on: new ones, and those whose worker's lease expired."""
    async with session_scope(sessionmaker) as session:
        due = await BatchJobRepository(session).due(now)
    for job_id, lease_expires_at in due:
        await queue.enqueue(job_id, lease_token(lease_expires_at))
    return len(due)


# --- arq -------------------------------------------------------------------------------------------


def _runner(ctx: dict[str, Any]) -> BatchJobRunner:
    runner = ctx.get("batch_runner")
    if runner is None:
        settings: Settings = ctx["settings"]
        queue = ArqBatchQueue(ctx["redis"], settings.queue_name)
        runner = BatchJobRunner(ctx["sessionmaker"], ctx["scheduler"], queue, batch_options(settings))
        ctx["batch_runner"] = runner
    return runner


async def run_batch_job(ctx: dict[str, Any], job_id: str) -> str | None:
    return await _runner(ctx).run(UUID(job_id))


async def batch_cron(ctx: dict[str, Any]) -> int:
    """Fire due schedules and queue batch jobs that nobody works on."""
    runner = _runner(ctx)
    now = datetime.now(UTC)
    fired = await fire_due_schedules(ctx["sessionmaker"], now=now, queue=runner.queue, scheduler=runner.scheduler)
    return fired + await sweep_batch_jobs(ctx["sessionmaker"], runner.queue, now)


def batch_functions(settings: Settings) -> list[Function]:
    timeout = int(settings.batch_slice_seconds + settings.batch_lease_seconds + 60)
    return [func(run_batch_job, name=BATCH_TASK, keep_result=0, max_tries=3, timeout=timeout)]


def batch_cron_jobs(settings: Settings) -> list[CronJob]:
    return [
        cron(
            batch_cron,
            name=SCHEDULES_TASK,
            second=set(range(0, 60, settings.sweep_interval_seconds)),
            keep_result=0,
            run_at_startup=True,
        )
    ]


# --- embedded ---------------------------------------------------------------------------------------


class EmbeddedBatchWork:
    """One step of the embedded runner's loop: fire schedules, then give each open job one slice."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        scheduler: Scheduler,
        queue: BatchQueue,
        settings: Settings,
    ) -> None:
        # Short slices: the same loop also executes the runs.
        options = batch_options(settings)
        options = dataclasses.replace(options, slice_seconds=min(options.slice_seconds, 2.0))
        self.sessionmaker = sessionmaker
        self.runner = BatchJobRunner(sessionmaker, scheduler, queue, options)

    async def step(self) -> int:
        worked = 0
        try:
            now = datetime.now(UTC)
            worked += await fire_due_schedules(
                self.sessionmaker, now=now, queue=self.runner.queue, scheduler=self.runner.scheduler
            )
            async with session_scope(self.sessionmaker) as session:
                due = await BatchJobRepository(session).due(now)
            for job_id, _lease in due:
                if await self.runner.run(job_id) is not None:
                    worked += 1
        except Exception as error:
            if operator_error(error) is not None:
                raise  # the database went away: the embedded runner pauses, with one line
            logger.exception("app.batch.embedded_step_failed")
        return worked
