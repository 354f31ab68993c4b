"""One pickup of a run: claim it, load what the engine needs, execute, persist, schedule the next.

The claim and the result are two short transactions around the execution. The lease taken by the
claim keeps other workers off the run meanwhile; the result is stored only if the lease still
belongs to this worker, so a pickup that overran its lease changes nothing.
"""

import socket
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.models import HogFlow, HogFlowRun, Person, RunStatus
from app.db.repositories.hog_flow import HogFlowRepository
from app.db.repositories.observability import ObservabilityRepository
from app.db.repositories.persons import PersonRepository
from app.db.repositories.runs import RunRepository
from app.db.session import session_scope
from app.engine.cancel import cancelled_outcome
from app.engine.executor import ExecutorOptions, execute_pickup
from app.engine.graph import FlowSnapshot
from app.engine.invocation import Invocation, Outcome
from app.engine.records import MetricRecord
from app.observability import metrics
from app.worker.function_steps import build_function_runner
from app.worker.scheduling import Scheduler

logger = structlog.get_logger(__name__)

DEFAULT_LEASE = timedelta(seconds=60)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def flow_snapshot(flow: HogFlow) -> FlowSnapshot:
    edges = flow.edges if isinstance(flow.edges, list) else []
    return FlowSnapshot(
        id=str(flow.id),
        team_id=flow.team_id,
        status=flow.status,
        actions=list(flow.actions or []),
        edges=edges,
        trigger=dict(flow.trigger or {}),
        conversion=flow.conversion,
        exit_condition=flow.exit_condition,
        variables=list(flow.variables or []),
        updated_at=flow.updated_at,
        name=flow.name,
    )


def run_person_globals(person: Person, distinct_id: str | None) -> dict[str, Any]:
    return {"id": str(person.id), "properties": dict(person.properties or {}), "distinct_id": distinct_id}


@dataclass
class RunProcessor:
    sessionmaker: async_sessionmaker[AsyncSession]
    scheduler: Scheduler
    # Read by function steps (fetch and SMTP settings): the app's or the worker's.
    settings: Settings
    options: ExecutorOptions = field(default_factory=ExecutorOptions)
    lease: timedelta = DEFAULT_LEASE
    owner: str = field(default_factory=worker_identity)

    def __post_init__(self) -> None:
        if self.options.run_function is None:
            runner = build_function_runner(self.sessionmaker, self.settings, self.scheduler)
            self.options = replace(self.options, run_function=runner)

    async def process(self, run_id: UUID) -> str | None:
        """Run one pickup; returns the run's new status, or None when there was nothing to do."""
        now = self.options.clock()
        async with session_scope(self.sessionmaker) as session:
            run = await RunRepository(session).claim(run_id, self.owner, now, self.lease)
            if run is None:
                return None
            flow = await HogFlowRepository(session).get(run.team_id, run.hog_flow_id)
            person = await self._load_person(session, run)
        if flow is None:
            outcome = Outcome(status=RunStatus.FAILED, state=run.state, error="Workflow not found")
        else:
            invocation = Invocation(
                id=str(run.id),
                flow=flow_snapshot(flow),
                state=dict(run.state),
                person=person,
                parent_run_id=run.parent_run_id,
                cancel_check=lambda: self._cancel_requested(run.id),
            )
            if run.cancel_requested:
                outcome = cancelled_outcome(invocation, self.options.clock)
            else:
                outcome = await execute_pickup(invocation, self.options)
            _add_run_level_metric(invocation, outcome, self.options)
        status = await self._persist(run, outcome)
        if status == RunStatus.CANCELLED and outcome.status != RunStatus.CANCELLED and flow is not None:
            # The cancel arrived after the pickup's last step boundary: record it as its own line.
            await self._record_cancel(run, invocation)
        return status

    async def _cancel_requested(self, run_id: UUID) -> bool:
        async with session_scope(self.sessionmaker) as session:
            return await RunRepository(session).cancel_requested(run_id)

    async def _record_cancel(self, run: HogFlowRun, invocation: Invocation) -> None:
        done = cancelled_outcome(invocation, self.options.clock)
        async with session_scope(self.sessionmaker) as session:
            observability = ObservabilityRepository(session)
            await observability.add_logs(done.logs)
            await observability.add_metrics(done.metrics)

    async def _load_person(self, session: AsyncSession, run: HogFlowRun) -> dict[str, Any] | None:
        repo = PersonRepository(session)
        person = None
        if run.distinct_id:
            person = await repo.get_by_distinct_id(run.team_id, run.distinct_id)
        if person is None and run.person_id is not None:
            person = await repo.get(run.team_id, run.person_id)
        return run_person_globals(person, run.distinct_id) if person is not None else None

    async def _persist(self, run: HogFlowRun, outcome: Outcome) -> str | None:
        now = self.options.clock()
        async with session_scope(self.sessionmaker) as session:
            runs = RunRepository(session)
            stored = await runs.finish_pickup(
                run,
                self.owner,
                status=outcome.status,
                state=outcome.state,
                next_run_at=outcome.next_run_at,
                error=outcome.error,
                now=now,
            )
            if stored is None:
                # Another worker took the run over after our lease expired; its pickup wins.
                logger.warning("app.worker.lease_lost", run_id=str(run.id), pickup=run.pickups)
                return None
            await runs.add_steps(run.id, run.pickups, outcome.steps)
            metrics.pickup(outcome.status, outcome.steps)
            observability = ObservabilityRepository(session)
            await observability.add_logs(outcome.logs)
            await observability.add_metrics(outcome.metrics)
        if outcome.next_run_at is not None and stored not in RunStatus.FINISHED:
            await self.scheduler.schedule(run.id, run.pickups, outcome.next_run_at)
        return stored


def _add_run_level_metric(invocation: Invocation, outcome: Outcome, options: ExecutorOptions) -> None:
    names = {RunStatus.COMPLETED: ("success", "succeeded"), RunStatus.FAILED: ("failure", "failed")}
    if outcome.status not in names:
        return
    kind, name = names[outcome.status]
    outcome.metrics.append(
        MetricRecord(
            team_id=invocation.team_id,
            app_source_id=invocation.source_id,
            instance_id=None,
            metric_kind=kind,
            metric_name=name,
            timestamp=options.clock(),
        )
    )


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession], scheduler: Scheduler, now: datetime, grace: timedelta
) -> int:
    """Queue every run that is overdue by `grace` or whose worker vanished. Safe on every worker at once.

    A run still due after the grace lost its job (Redis flushed) or its job is held by a worker that
    died: it gets a job id of its own per grace window, so at most one extra job per window, and the
    claim makes any extra job a no-op.
    """
    async with session_scope(sessionmaker) as session:
        due = await RunRepository(session).due(now, overdue_by=grace)
    window = f"sweep-{int(now.timestamp() // max(grace.total_seconds(), 1))}"
    for run_id, pickups in due:
        await scheduler.schedule(run_id, pickups, now, retry_key=window)
    return len(due)
