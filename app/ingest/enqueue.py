"""Handing new runs to the workers once the transaction that created them has committed."""

import asyncio
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import structlog

from app.worker.scheduling import Scheduler

logger = structlog.get_logger(__name__)

# Enqueues in flight at once: enough to overlap Redis round-trips without flooding the pool.
_CONCURRENCY = 50


async def schedule_runs(scheduler: Scheduler, run_ids: Sequence[UUID], when: datetime) -> None:
    """Queue each run's first pickup. A failure is only logged: runs are due in PostgreSQL and the
    sweeper queues them anyway, a few seconds later."""
    for start in range(0, len(run_ids), _CONCURRENCY):
        chunk = run_ids[start : start + _CONCURRENCY]
        results = await asyncio.gather(
            *(scheduler.schedule(run_id, 0, when) for run_id in chunk), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            logger.warning("app.ingest.enqueue_failed", failed=len(failures), error=str(failures[0]))
