"""Firing due schedules: a batch job for `batch` flows, one run with `$workflow_scheduled` otherwise.

Every worker may run this at the same time. An occurrence is claimed with one UPDATE that moves
`next_run_at` from the due time to the next occurrence (compare-and-set); the job or run is created
in the same transaction, so exactly one worker fires each occurrence and a crash fires nothing twice.
Missed occurrences (the scheduler was down) fire once; `next_run_at` then jumps to the future.
As PostHog's scheduler: a due schedule whose flow is not active (or not `batch`/`schedule`) fires
nothing and has its `next_run_at` cleared; only schedules of such flows get a next occurrence.
A stored rule that does not parse fires nothing and is reported (a warning line and an error in the
flow's logs). Difference: PostHog retries it on every poll; here the schedule completes, reported once.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audiences import audience_filters
from app.batch.queue import BatchQueue, lease_token
from app.batch.rrules import RRuleTooExpensive, next_occurrences
from app.batch.runs import job_variables, merged_variables
from app.db.models import HogFlowBatchJob, HogFlowSchedule
from app.db.repositories.batch_jobs import BatchJobRepository
from app.db.repositories.hog_flow import HogFlowRepository
from app.db.repositories.observability import ObservabilityRepository
from app.db.repositories.runs import RunRepository
from app.db.repositories.schedules import ScheduleRepository
from app.db.session import session_scope
from app.engine.invocation import default_variables, initial_state
from app.engine.records import LogRecord
from app.observability import metrics
from app.worker.scheduling import Scheduler, schedule_runs

logger = structlog.get_logger(__name__)

SCHEDULED_EVENT = "$workflow_scheduled"
SCHEDULED_TRIGGER_TYPES = ("batch", "schedule")


def scheduled_event(schedule: HogFlowSchedule, due_at: datetime, now: datetime) -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "event": SCHEDULED_EVENT,
        "distinct_id": "",
        "properties": {"$schedule_id": str(schedule.id), "$scheduled_at": due_at.isoformat().replace("+00:00", "Z")},
        "elements_chain": "",
        "timestamp": now.isoformat().replace("+00:00", "Z"),
    }


class BrokenRule(Exception):
    """A stored rule (or time zone) that does not parse: PostHog's scheduler reports it and fires nothing."""


def following(schedule: HogFlowSchedule, now: datetime) -> datetime | None:
    """The schedule's next occurrence after `now`; None when the rule is exhausted."""
    try:
        found = next_occurrences(schedule.rrule, schedule.starts_at, schedule.timezone, after=now)
    except (KeyError, ValueError, RRuleTooExpensive) as error:
        raise BrokenRule(f"{type(error).__name__}: {error}") from error
    return found[0] if found else None


async def _report_broken(session: AsyncSession, schedule: HogFlowSchedule, error: BrokenRule, now: datetime) -> None:
    """One warning line and one error in the flow's logs; the schedule completes so it is reported once."""
    logger.warning("app.batch.schedule_failed", schedule_id=str(schedule.id), error=str(error))
    message = f"Schedule {schedule.id} was not run: its rule {schedule.rrule!r} does not parse ({error})"
    record = LogRecord(schedule.team_id, str(schedule.hog_flow_id), str(schedule.id), now, "error", message)
    await ObservabilityRepository(session).add_logs([record])


@dataclass(frozen=True)
class Fired:
    batch_job_id: UUID | None = None
    run_id: UUID | None = None


async def fire_due_schedules(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    queue: BatchQueue,
    scheduler: Scheduler,
) -> int:
    """Compute missing `next_run_at`s, then fire every due schedule once. Returns how many fired."""
    async with session_scope(sessionmaker) as session:
        repo = ScheduleRepository(session)
        # Only schedules whose flow could fire get a next occurrence (PostHog's initialisation step).
        for schedule in await repo.without_next_run(trigger_types=SCHEDULED_TRIGGER_TYPES):
            try:
                next_run_at = following(schedule, now)
            except BrokenRule as error:
                await _report_broken(session, schedule, error, now)
                next_run_at = None
            await repo.advance(schedule.id, expected=None, next_run_at=next_run_at, fired_at=None, now=now)
        due = await repo.due(now)
    fired = 0
    for schedule_id, due_at in due:
        async with session_scope(sessionmaker) as session:
            result = await _fire(session, schedule_id, due_at, now)
        if result is None or (result.batch_job_id is None and result.run_id is None):
            continue
        fired += 1
        if result.batch_job_id is not None:
            await queue.enqueue(result.batch_job_id, lease_token(None))
        if result.run_id is not None:
            await schedule_runs(scheduler, [result.run_id], now)
    return fired


async def _fire(session: AsyncSession, schedule_id: UUID, due_at: datetime, now: datetime) -> Fired | None:
    repo = ScheduleRepository(session)
    schedule = await repo.get(schedule_id)
    if schedule is None:
        return None
    flow = await HogFlowRepository(session).get(schedule.team_id, schedule.hog_flow_id)
    trigger = dict(flow.trigger or {}) if flow is not None else {}
    if flow is None or flow.status != "active" or trigger.get("type") not in SCHEDULED_TRIGGER_TYPES:
        # PostHog clears `next_run_at` and fires nothing; the schedule stays active and gets a
        # next occurrence once the flow is active (and batch or schedule) again.
        await repo.clear_next_run(schedule_id, expected=due_at, now=now)
        logger.info("app.batch.schedule_skipped", schedule_id=str(schedule_id))
        return Fired()
    try:
        next_run_at = following(schedule, now)
    except BrokenRule as error:
        if await repo.advance(schedule_id, expected=due_at, next_run_at=None, fired_at=None, now=now):
            await _report_broken(session, schedule, error, now)
        return Fired()
    claimed = await repo.advance(schedule_id, expected=due_at, next_run_at=next_run_at, fired_at=due_at, now=now)
    if not claimed:
        return None  # another worker fired this occurrence
    variables = job_variables(schedule.variables)
    if trigger.get("type") == "batch":
        job = HogFlowBatchJob(
            team_id=flow.team_id,
            hog_flow_id=flow.id,
            status="queued",
            filters=audience_filters(trigger.get("filters")),
            variables=merged_variables(flow.variables, variables),
            created_at=now,
            updated_at=now,
        )
        await BatchJobRepository(session).create(job)
        return Fired(batch_job_id=job.id)
    metrics.runs_created("schedule")
    run = await RunRepository(session).create(
        team_id=flow.team_id,
        hog_flow_id=flow.id,
        state=initial_state(scheduled_event(schedule, due_at, now), default_variables(flow.variables), variables),
        now=now,
        version=flow.version,
    )
    return Fired(run_id=run.id)
