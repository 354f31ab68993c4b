"""Executing a batch job: resolve the audience page by page and create one run per person.

A worker claims the job (lease), then works through pages of persons ordered by id. Each page is
one transaction: re-check the lease and cursor (compare-and-set), read the next candidates after
the cursor, let the VM decide the ones SQL could not, insert their runs, move the cursor and the
progress counters. After a time slice the worker gives the job back and queues its continuation,
so long jobs move between workers and a dead worker only loses its uncommitted page.

Status: `queued` → `active` (claimed) → `completed`, or `failed` / `cancelled` (executor.md §11).
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audiences import Audience, TeamContext, audience_filters, build_audience
from app.batch.queue import BatchQueue, lease_token
from app.batch.runs import batch_run_row, job_variables
from app.db.models import HogFlow, HogFlowBatchJob, Team
from app.db.repositories.audiences import AudienceRepository
from app.db.repositories.batch_jobs import BatchJobRepository
from app.db.repositories.hog_flow import HogFlowRepository
from app.db.repositories.observability import ObservabilityRepository
from app.db.session import session_scope
from app.engine.records import LogRecord, MetricRecord
from app.filters import FiltersCompileError
from app.observability.metrics import runs_created
from app.worker.processor import worker_identity
from app.worker.scheduling import Scheduler, schedule_runs

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BatchOptions:
    page_size: int = 500
    lease: timedelta = timedelta(seconds=60)
    # How long one task works on a job before handing it back (and queueing the rest).
    slice_seconds: float = 10.0
    # 0: no cap. Otherwise at most this many runs per job (PostHog's max_audience_size).
    max_audience_size: int = 0
    # Fairness: at most this many jobs of one team are worked on at once by one runner (worker); a job
    # over the cap is left queued for the sweeper to hand out again, so other teams' jobs go first.
    team_slices: int = 1


@dataclass
class _Job:
    """What a slice knows about its job between pages."""

    id: UUID
    team_id: int
    cursor: str | None
    persons_matched: int
    runs_created: int
    variables: dict[str, Any]


@dataclass(frozen=True)
class _Page:
    run_ids: list[UUID]
    finished: bool


class _LostLease(Exception):
    pass


def _log(job: _Job, level: str, message: str, now: datetime) -> LogRecord:
    # Resolver logs belong to the batch job: it is both their source and their instance (PostHog).
    return LogRecord(job.team_id, str(job.id), str(job.id), now, level, message)


@dataclass
class BatchJobRunner:
    sessionmaker: async_sessionmaker[AsyncSession]
    scheduler: Scheduler
    queue: BatchQueue
    options: BatchOptions = field(default_factory=BatchOptions)
    owner: str = field(default_factory=worker_identity)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Jobs being worked on by this runner, per team.
    active: Counter[int] = field(default_factory=Counter)

    async def run(self, job_id: UUID) -> str | None:
        """Work on the job for one slice. Returns its status afterwards, None if it was not ours to take
        (someone else holds it, or its team already has `team_slices` jobs running here)."""
        async with session_scope(self.sessionmaker) as session:
            team_id = await BatchJobRepository(session).team_of(job_id)
        if team_id is None or self.active[team_id] >= self.options.team_slices:
            return None
        # Counted before the claim (no await in between), so concurrent tasks cannot both pass the cap.
        self.active[team_id] += 1
        try:
            return await self._run(job_id)
        finally:
            self.active[team_id] -= 1
            if self.active[team_id] <= 0:
                del self.active[team_id]

    async def _run(self, job_id: UUID) -> str | None:
        now = self.clock()
        async with session_scope(self.sessionmaker) as session:
            claimed = await BatchJobRepository(session).claim(job_id, self.owner, now, self.options.lease)
            if claimed is None:
                return None
            flow = await HogFlowRepository(session).get(claimed.team_id, claimed.hog_flow_id)
            team = await session.get(Team, claimed.team_id)
            job = _Job(
                claimed.id,
                claimed.team_id,
                claimed.cursor,
                claimed.persons_matched,
                claimed.runs_created,
                job_variables(claimed.variables),
            )
            problem = self._problem(flow, team)
            audience: Audience | None = None
            if problem is None and flow is not None and team is not None:
                try:
                    audience = self._audience(claimed, flow, team)
                except FiltersCompileError as error:
                    problem = ("failed", f"Batch resolver failed: {error}", "error")
        if problem is not None or flow is None or audience is None:
            status, message, level = problem or ("failed", "Batch resolver failed", "error")
            await self._finish(job, status, message, level)
            return status
        if job.cursor is None and job.runs_created == 0:
            await self._write(session=None, logs=[_log(job, "info", "Batch job started: resolving the audience", now)])
        return await self._work(job, flow, audience)

    def _problem(self, flow: HogFlow | None, team: Team | None) -> tuple[str, str, str] | None:
        if flow is None or team is None:
            return "failed", "Batch resolver failed: Workflow or team was deleted mid-run", "error"
        if flow.status != "active":
            return "cancelled", "Batch job cancelled: the workflow is no longer active", "warn"
        if (flow.trigger or {}).get("type") != "batch":
            return "failed", "Batch resolver failed: Only batch Workflows are supported for batch jobs", "error"
        return None

    @staticmethod
    def _audience(job: HogFlowBatchJob, flow: HogFlow, team: Team) -> Audience:
        filters = audience_filters((flow.trigger or {}).get("filters"), job.filters)
        context = TeamContext(team.timezone or "UTC", tuple(team.test_account_filters or ()))
        # Relative dates (`-7d`) resolve against the job's creation, the same for every slice.
        return build_audience(filters, context, now=job.created_at)

    async def _work(self, job: _Job, flow: HogFlow, audience: Audience) -> str:
        deadline = time.monotonic() + self.options.slice_seconds
        while True:
            try:
                page = await self._page(job, flow, audience)
            except _LostLease:
                logger.warning("app.batch.lease_lost", batch_job_id=str(job.id))
                return "active"
            if page.run_ids:
                await schedule_runs(self.scheduler, page.run_ids, self.clock())
            if page.finished:
                return "completed"
            if time.monotonic() >= deadline:
                break
        now = self.clock()
        async with session_scope(self.sessionmaker) as session:
            released_at = await BatchJobRepository(session).release(job.id, self.owner, now)
        if released_at is not None:
            await self.queue.enqueue(job.id, lease_token(released_at))
        return "active"

    async def _page(self, job: _Job, flow: HogFlow, audience: Audience) -> _Page:
        now = self.clock()
        options = self.options
        async with session_scope(self.sessionmaker) as session:
            jobs = BatchJobRepository(session)
            if not await jobs.fence(job.id, self.owner, job.cursor, now, options.lease):
                raise _LostLease()
            logs: list[LogRecord] = []
            remaining = options.max_audience_size - job.runs_created if options.max_audience_size else None
            if remaining is not None and remaining <= 0:
                logs.append(self._cap_warning(job, now))
                await self._complete(session, job, logs, now)
                return _Page([], finished=True)
            audiences = AudienceRepository(session)
            pushdown = audiences.pushdown(audience)
            after = UUID(job.cursor) if job.cursor else None
            candidates = await audiences.candidates(job.team_id, pushdown, after=after, limit=options.page_size)
            # In a thread: a page of VM verdicts must not hold the worker's event loop.
            matched = await asyncio.to_thread(audience.matching, candidates)
            chosen = matched if remaining is None else matched[:remaining]
            rows = [
                batch_run_row(
                    flow, job_id=job.id, person_id=c.id, distinct_id=c.distinct_id, variables=job.variables, now=now
                )
                for c in chosen
            ]
            await jobs.add_runs(rows)
            runs_created("batch", len(rows))
            cursor = str(candidates[-1].id) if candidates else job.cursor
            await jobs.advance(job.id, self.owner, cursor=cursor, matched=len(matched), created=len(rows), now=now)
            job.cursor = cursor
            job.persons_matched += len(matched)
            job.runs_created += len(rows)
            truncated = len(chosen) < len(matched)
            finished = len(candidates) < options.page_size or truncated
            if truncated:
                logs.append(self._cap_warning(job, now))
            metrics = []
            if rows:
                metrics.append(MetricRecord(job.team_id, str(job.id), None, "other", "triggered", now, len(rows)))
            if finished:
                await self._complete(session, job, logs, now)
            await self._write(session=session, logs=logs, metrics=metrics)
        return _Page([row["id"] for row in rows], finished=finished)

    def _cap_warning(self, job: _Job, now: datetime) -> LogRecord:
        cap = self.options.max_audience_size
        message = (
            f"Audience reached the max cap of {cap}, {job.runs_created} persons enqueued; "
            "the rest of the audience was not enqueued"
        )
        return _log(job, "warn", message, now)

    async def _complete(self, session: AsyncSession, job: _Job, logs: list[LogRecord], now: datetime) -> None:
        await BatchJobRepository(session).finish(job.id, self.owner, status="completed", error=None, now=now)
        message = f"Batch job completed: {job.persons_matched} persons matched, {job.runs_created} runs created"
        logs.append(_log(job, "info", message, now))

    async def _finish(self, job: _Job, status: str, message: str, level: str) -> None:
        now = self.clock()
        async with session_scope(self.sessionmaker) as session:
            error = message if status == "failed" else None
            if await BatchJobRepository(session).finish(job.id, self.owner, status=status, error=error, now=now):
                await self._write(session=session, logs=[_log(job, level, message, now)])

    async def _write(
        self,
        *,
        session: AsyncSession | None,
        logs: list[LogRecord] | None = None,
        metrics: list[MetricRecord] | None = None,
    ) -> None:
        if session is None:
            async with session_scope(self.sessionmaker) as own:
                await self._write(session=own, logs=logs, metrics=metrics)
            return
        observability = ObservabilityRepository(session)
        if logs:
            await observability.add_logs(logs)
        if metrics:
            await observability.add_metrics(metrics)
