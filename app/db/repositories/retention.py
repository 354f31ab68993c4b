"""Deleting what is past its retention, a small batch per statement so no lock is held for long.

Each call deletes at most `batch` rows and returns how many it deleted; the caller loops while it
gets full batches. Rows are chosen with `SKIP LOCKED` on PostgreSQL, so workers purging at the same
time take different rows. A run's steps and send records go with it (foreign keys cascade).
"""

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import AppMetric, HogFlowRun, LogEntry, RunStatus


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def delete_logs_before(self, cutoff: datetime, batch: int) -> int:
        return await self._delete(LogEntry, LogEntry.timestamp < cutoff, batch)

    async def delete_metrics_before(self, cutoff: datetime, batch: int) -> int:
        return await self._delete(AppMetric, AppMetric.timestamp < cutoff, batch)

    async def delete_runs_finished_before(self, cutoff: datetime, batch: int) -> int:
        finished = HogFlowRun.status.in_(RunStatus.FINISHED) & (HogFlowRun.finished_at < cutoff)
        return await self._delete(HogFlowRun, finished, batch)

    async def _delete(self, model: Any, condition: Any, batch: int) -> int:
        chosen = select(model.id).where(condition).limit(batch).with_for_update(skip_locked=True)
        result = await self.session.execute(
            delete(model).where(model.id.in_(chosen.scalar_subquery())).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def queue_sample(self, now: datetime) -> tuple[float, dict[str, int]]:
        """Age in seconds of the oldest due run that nobody holds, and the number of runs per status."""
        oldest = await self.session.scalar(
            select(func.min(HogFlowRun.next_run_at)).where(
                HogFlowRun.status.in_(RunStatus.PENDING), HogFlowRun.next_run_at <= now
            )
        )
        rows = (await self.session.execute(select(HogFlowRun.status, func.count()).group_by(HogFlowRun.status))).all()
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        return lag, {status: int(count) for status, count in rows}
