"""The batch job runner and the schedule firing, driven directly against the database."""

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.batch.resolver import BatchJobRunner, BatchOptions
from app.batch.schedules import fire_due_schedules
from app.crypto import DEFAULT_SECRET_KEY, SecretBox
from app.db.models import HogFlow, HogFlowBatchJob, HogFlowRun, HogFlowSchedule, LogEntry, Team, User
from app.db.repositories.persons import PersonRepository, PersonUpdate
from app.db.session import session_scope
from app.schemas.hog_flow import HogFlowCreate
from app.services.bootstrap import Tenant, bootstrap_tenant
from app.services.hog_flows import create_flow
from tests.api.batch_helpers import batch_flow, person_filter, schedule_flow

BOX = SecretBox([DEFAULT_SECRET_KEY])


class RecordingScheduler:
    def __init__(self) -> None:
        self.scheduled: list[uuid.UUID] = []

    async def schedule(self, run_id: uuid.UUID, pickups: int, when: datetime, retry_key: str | None = None) -> None:
        self.scheduled.append(run_id)


class RecordingQueue:
    def __init__(self) -> None:
        self.queued: list[tuple[uuid.UUID, str]] = []

    async def enqueue(self, job_id: uuid.UUID, token: str) -> None:
        self.queued.append((job_id, token))


async def setup(
    sessionmaker: async_sessionmaker[AsyncSession], persons: int, flow: dict[str, Any]
) -> tuple[Tenant, HogFlow]:
    async with session_scope(sessionmaker) as session:
        tenant = await bootstrap_tenant(session)
        changes = [PersonUpdate(f"p{i:04d}", {"plan": "pro" if i % 2 else "free", "n": i}) for i in range(persons)]
        await PersonRepository(session).upsert_many(tenant.team_id, changes)
        team = await session.get(Team, tenant.team_id)
        user = await session.get(User, tenant.user_id)
        assert team is not None and user is not None
        created = await create_flow(session, team, user, HogFlowCreate.model_validate(flow), BOX)
    return tenant, created


async def new_job(sessionmaker: async_sessionmaker[AsyncSession], flow: HogFlow, **fields: Any) -> uuid.UUID:
    async with session_scope(sessionmaker) as session:
        job = HogFlowBatchJob(team_id=flow.team_id, hog_flow_id=flow.id, status="queued", **fields)
        session.add(job)
        await session.flush()
        return job.id


async def job_runs(sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> list[HogFlowRun]:
    async with session_scope(sessionmaker) as session:
        statement = select(HogFlowRun).where(HogFlowRun.parent_run_id == str(job_id))
        return list((await session.execute(statement)).scalars().all())


async def get_job(sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID) -> HogFlowBatchJob:
    async with session_scope(sessionmaker) as session:
        job = await session.get(HogFlowBatchJob, job_id)
        assert job is not None
        return job


def runner(sessionmaker: async_sessionmaker[AsyncSession], owner: str, **options: Any) -> BatchJobRunner:
    defaults: dict[str, Any] = {"page_size": 7, "slice_seconds": 60}
    return BatchJobRunner(
        sessionmaker, RecordingScheduler(), RecordingQueue(), BatchOptions(**{**defaults, **options}), owner=owner
    )


async def test_one_run_per_matching_person(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _, flow = await setup(sessionmaker, 40, batch_flow([person_filter("plan", "pro")]))
    job_id = await new_job(sessionmaker, flow, variables={"x": 1})
    worker = runner(sessionmaker, "a")
    assert await worker.run(job_id) == "completed"
    runs = await job_runs(sessionmaker, job_id)
    assert sorted(run.distinct_id or "" for run in runs) == [f"p{i:04d}" for i in range(40) if i % 2]
    assert sorted(worker.scheduler.scheduled) == sorted(run.id for run in runs)  # type: ignore[attr-defined]
    job = await get_job(sessionmaker, job_id)
    assert (job.status, job.persons_matched, job.runs_created) == ("completed", 20, 20)
    assert job.lease_owner is None and job.finished_at is not None and job.started_at is not None
    assert await worker.run(job_id) is None  # nothing left to claim


async def test_a_stale_worker_cannot_write_after_losing_its_lease(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, flow = await setup(sessionmaker, 60, batch_flow([person_filter("n", 0, "gte")]))
    job_id = await new_job(sessionmaker, flow)
    slow = runner(sessionmaker, "slow", slice_seconds=0.0)
    assert await slow.run(job_id) == "active"  # one page, then it hands the job back
    assert (await get_job(sessionmaker, job_id)).runs_created == 7
    # Claim it again, then let the lease lapse and another worker take over.
    async with session_scope(sessionmaker) as session:
        await session.execute(
            update(HogFlowBatchJob)
            .where(HogFlowBatchJob.id == job_id)
            .values(lease_owner="slow", lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    fresh = runner(sessionmaker, "fresh")
    assert await fresh.run(job_id) == "completed"
    # The stale worker comes back with its old cursor: its fenced page changes nothing.
    stale_job = await get_job(sessionmaker, job_id)
    assert stale_job.status == "completed"
    runs = await job_runs(sessionmaker, job_id)
    assert len(runs) == 60
    assert max(Counter(run.person_id for run in runs).values()) == 1


async def test_concurrent_workers_never_duplicate(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _, flow = await setup(sessionmaker, 50, batch_flow([person_filter("n", 0, "gte")]))
    job_id = await new_job(sessionmaker, flow)
    workers = [runner(sessionmaker, f"w{i}", slice_seconds=0.0, lease=timedelta(milliseconds=1)) for i in range(4)]
    for _ in range(30):
        await asyncio.gather(*(worker.run(job_id) for worker in workers))
        if (await get_job(sessionmaker, job_id)).status == "completed":
            break
    job = await get_job(sessionmaker, job_id)
    runs = await job_runs(sessionmaker, job_id)
    assert job.status == "completed"
    assert len(runs) == job.runs_created == 50
    assert max(Counter(run.person_id for run in runs).values()) == 1


async def test_max_audience_size(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _, flow = await setup(sessionmaker, 30, batch_flow([person_filter("n", 0, "gte")]))
    job_id = await new_job(sessionmaker, flow)
    assert await runner(sessionmaker, "a", max_audience_size=10).run(job_id) == "completed"
    job = await get_job(sessionmaker, job_id)
    assert job.runs_created == 10
    async with session_scope(sessionmaker) as session:
        logs = (await session.execute(select(LogEntry).where(LogEntry.log_source_id == str(job_id)))).scalars()
        messages = {(entry.level, entry.message) for entry in logs}
    assert any(level == "warn" and "Audience reached the max cap of 10" in text for level, text in messages)


async def test_an_inactive_flow_cancels_the_job(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _, flow = await setup(sessionmaker, 5, batch_flow())
    job_id = await new_job(sessionmaker, flow)
    async with session_scope(sessionmaker) as session:
        await session.execute(update(HogFlow).where(HogFlow.id == flow.id).values(status="draft"))
    assert await runner(sessionmaker, "a").run(job_id) == "cancelled"
    assert (await get_job(sessionmaker, job_id)).status == "cancelled"
    assert await job_runs(sessionmaker, job_id) == []


@pytest.mark.parametrize(
    "filters",
    [{"properties": [{"key": "x", "value": 1, "type": "cohort"}]}, {"properties": "nope"}],
)
async def test_unusable_filters_fail_the_job(
    sessionmaker: async_sessionmaker[AsyncSession], filters: dict[str, Any]
) -> None:
    _, flow = await setup(sessionmaker, 5, batch_flow())
    job_id = await new_job(sessionmaker, flow, filters=filters)
    assert await runner(sessionmaker, "a").run(job_id) == "failed"
    job = await get_job(sessionmaker, job_id)
    assert job.status == "failed"
    assert job.error is not None and job.error.startswith("Batch resolver failed: ")


async def test_a_due_schedule_fires_once_under_concurrency(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    tenant, batch = await setup(sessionmaker, 4, batch_flow([person_filter("plan", "pro")]))
    async with session_scope(sessionmaker) as session:
        team = await session.get(Team, tenant.team_id)
        user = await session.get(User, tenant.user_id)
        assert team is not None and user is not None
        scheduled = await create_flow(session, team, user, HogFlowCreate.model_validate(schedule_flow()), BOX)
        due = datetime.now(UTC) - timedelta(minutes=5)
        for flow in (batch, scheduled):
            session.add(
                HogFlowSchedule(
                    team_id=flow.team_id,
                    hog_flow_id=flow.id,
                    rrule="FREQ=DAILY",
                    starts_at=datetime(2024, 1, 1, tzinfo=UTC),
                    timezone="UTC",
                    variables={"v": 1},
                    status="active",
                    next_run_at=due,
                )
            )
    queue, scheduler = RecordingQueue(), RecordingScheduler()
    now = datetime.now(UTC)
    await asyncio.gather(
        *(fire_due_schedules(sessionmaker, now=now, queue=queue, scheduler=scheduler) for _ in range(6))
    )
    async with session_scope(sessionmaker) as session:
        jobs = await session.scalar(
            select(func.count()).select_from(HogFlowBatchJob).where(HogFlowBatchJob.hog_flow_id == batch.id)
        )
        runs = await session.scalar(
            select(func.count()).select_from(HogFlowRun).where(HogFlowRun.hog_flow_id == scheduled.id)
        )
        schedules = (
            (
                await session.execute(
                    select(HogFlowSchedule).where(HogFlowSchedule.hog_flow_id.in_([batch.id, scheduled.id]))
                )
            )
            .scalars()
            .all()
        )
    assert (jobs, runs) == (1, 1)
    for schedule in schedules:
        assert schedule.last_run_at == due
        assert schedule.next_run_at is not None and schedule.next_run_at > now


async def test_a_due_schedule_of_an_inactive_flow_clears_next_run_and_fires_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """PostHog's scheduler: an inactive flow's due schedule loses `next_run_at` (still `active`), is
    not given a new one while the flow stays inactive, and gets one again once the flow is active."""
    _, flow = await setup(sessionmaker, 1, batch_flow(status="draft"))
    now = datetime.now(UTC)
    async with session_scope(sessionmaker) as session:
        schedule = HogFlowSchedule(
            team_id=flow.team_id,
            hog_flow_id=flow.id,
            rrule="FREQ=DAILY",
            starts_at=now - timedelta(days=2, minutes=1),
            timezone="UTC",
            status="active",
            next_run_at=now - timedelta(minutes=1),
        )
        session.add(schedule)
    queue, scheduler = RecordingQueue(), RecordingScheduler()
    for _ in range(2):  # the second pass must not initialise it again
        await fire_due_schedules(sessionmaker, now=now, queue=queue, scheduler=scheduler)
        async with session_scope(sessionmaker) as session:
            stored = await session.get(HogFlowSchedule, schedule.id)
            assert stored is not None
            assert (stored.status, stored.next_run_at, stored.last_run_at) == ("active", None, None)
            jobs = await session.scalar(
                select(func.count()).select_from(HogFlowBatchJob).where(HogFlowBatchJob.hog_flow_id == flow.id)
            )
            assert jobs == 0
    async with session_scope(sessionmaker) as session:
        await session.execute(update(HogFlow).where(HogFlow.id == flow.id).values(status="active"))
    await fire_due_schedules(sessionmaker, now=now, queue=queue, scheduler=scheduler)
    async with session_scope(sessionmaker) as session:
        stored = await session.get(HogFlowSchedule, schedule.id)
        assert stored is not None and stored.next_run_at is not None and stored.next_run_at > now


async def test_a_stored_rule_that_does_not_parse_creates_no_job_and_is_reported(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    _, flow = await setup(sessionmaker, 1, batch_flow())
    now = datetime.now(UTC)
    async with session_scope(sessionmaker) as session:
        schedule = HogFlowSchedule(
            team_id=flow.team_id,
            hog_flow_id=flow.id,
            rrule="FREQ=SOMETIMES",  # written behind the API's back: the API refuses it
            starts_at=now - timedelta(days=1),
            timezone="UTC",
            status="active",
            next_run_at=now - timedelta(minutes=1),
        )
        session.add(schedule)
    queue, scheduler = RecordingQueue(), RecordingScheduler()
    await fire_due_schedules(sessionmaker, now=now, queue=queue, scheduler=scheduler)
    await fire_due_schedules(sessionmaker, now=now, queue=queue, scheduler=scheduler)
    async with session_scope(sessionmaker) as session:
        stored = await session.get(HogFlowSchedule, schedule.id)
        assert stored is not None
        assert (stored.status, stored.next_run_at, stored.last_run_at) == ("completed", None, None)
        jobs = await session.scalar(
            select(func.count()).select_from(HogFlowBatchJob).where(HogFlowBatchJob.hog_flow_id == flow.id)
        )
        assert jobs == 0
        reports = (
            (await session.execute(select(LogEntry).where(LogEntry.log_source_id == str(flow.id)))).scalars().all()
        )
    # Reported once, in the flow's logs, naming the schedule and its rule.
    assert [(entry.level, entry.instance_id) for entry in reports] == [("error", str(schedule.id))]
    assert "FREQ=SOMETIMES" in reports[0].message and "does not parse" in reports[0].message


async def test_one_runner_works_one_job_per_team_at_a_time(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    _, busy_flow = await setup(sessionmaker, 40, batch_flow([person_filter("n", 0, "gte")]))
    _, other_flow = await setup(sessionmaker, 10, batch_flow([person_filter("n", 0, "gte")]))
    first, second = await new_job(sessionmaker, busy_flow), await new_job(sessionmaker, busy_flow)
    other = await new_job(sessionmaker, other_flow)
    worker = runner(sessionmaker, "fair", team_slices=1)
    # Started together: the second job of the busy team waits; the other team's job does not.
    busy_a, busy_b, other_result = await asyncio.gather(worker.run(first), worker.run(second), worker.run(other))
    assert other_result == "completed"
    assert {busy_a, busy_b} == {"completed", None}
    assert not worker.active
