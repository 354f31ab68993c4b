"""Batch jobs and schedules executed by real `hogflows worker` processes over Redis.

- A job over 5,000 persons, in pages of 5, whose worker is SIGKILLed mid-job: a new worker resumes
  after the last committed page, and every matching person gets exactly one run.
- A due schedule with two workers polling: it fires exactly once.
"""

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlowBatchJob, HogFlowRun, HogFlowSchedule
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.batch_helpers import (
    batch_flow,
    batch_jobs_url,
    create_flow,
    person_filter,
    schedule_flow,
    schedules_url,
    upsert_persons,
)
from tests.api.helpers import auth
from tests.polling import wait_for
from tests.serving import Workers

PERSONS = 5_000


@pytest.fixture
def batch_workers(worker_env: dict[str, str]) -> Iterator[Workers]:
    """Workers with small pages and a short lease, so a kill lands mid-job and recovery is quick."""
    env = {
        **worker_env,
        "HOGFLOWS_BATCH_PAGE_SIZE": "5",
        "HOGFLOWS_BATCH_LEASE_SECONDS": "3",
        "HOGFLOWS_BATCH_SLICE_SECONDS": "5",
    }
    pool = Workers(env)
    yield pool
    pool.stop_all()


def audience_person(index: int) -> dict[str, Any]:
    plan = "pro" if index % 3 == 0 else ("free" if index % 3 == 1 else "Pro")
    return {"distinct_id": f"person-{index:05d}", "properties": {"plan": plan, "n": index}}


async def get_job(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, job_id: str) -> dict[str, Any]:
    jobs = (await client.get(batch_jobs_url(tenant, flow_id), headers=auth(tenant))).json()
    return next(job for job in jobs if job["id"] == job_id)


async def test_batch_job_survives_a_killed_worker(
    queue_client: httpx.AsyncClient,
    tenant: Tenant,
    batch_workers: Workers,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await upsert_persons(queue_client, tenant, [audience_person(i) for i in range(PERSONS)])
    expected = {f"person-{i:05d}" for i in range(PERSONS) if i % 3 == 0 and i >= 100}
    properties = [person_filter("plan", "pro"), person_filter("n", 100, "gte")]
    flow_id = await create_flow(queue_client, tenant, batch_flow(properties))

    first = batch_workers.start()
    response = await queue_client.post(
        batch_jobs_url(tenant, flow_id), json={"variables": {"wave": 1}}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]

    async def well_under_way() -> dict[str, Any] | None:
        job = await get_job(queue_client, tenant, flow_id, job_id)
        return job if job["runs_created"] >= 200 else None

    at_kill = await wait_for(well_under_way, within=60, interval=0.05)
    batch_workers.kill(first)
    killed = await get_job(queue_client, tenant, flow_id, job_id)
    assert killed["status"] == "active", "the job finished before the worker was killed"
    assert at_kill["runs_created"] <= killed["runs_created"] < len(expected)

    batch_workers.start()

    async def completed() -> dict[str, Any] | None:
        job = await get_job(queue_client, tenant, flow_id, job_id)
        assert job["status"] in ("active", "completed"), job
        return job if job["status"] == "completed" else None

    done = await wait_for(completed, within=120)
    assert done["persons_matched"] == done["runs_created"] == len(expected)

    async with session_scope(sessionmaker) as session:
        rows = (
            await session.execute(
                select(HogFlowRun.distinct_id, HogFlowRun.person_id, HogFlowRun.state).where(
                    HogFlowRun.parent_run_id == job_id
                )
            )
        ).all()
    per_person = Counter(row.person_id for row in rows)
    assert max(per_person.values()) == 1, "a person got two runs"
    assert {row.distinct_id for row in rows} == expected
    assert all(row.state["variables"] == {"wave": 1} for row in rows)

    async def runs_finished() -> bool:
        async with session_scope(sessionmaker) as session:
            statuses = dict(
                (
                    await session.execute(
                        select(HogFlowRun.status, func.count())
                        .where(HogFlowRun.parent_run_id == job_id)
                        .group_by(HogFlowRun.status)
                    )
                ).all()
            )
        assert "failed" not in statuses, statuses
        # Runs whose job died with the killed worker are queued again by the sweeper under a fresh job
        # id once overdue (or once their lease expires), so every run completes.
        return statuses.get("completed", 0) == len(expected)

    await wait_for(runs_finished, within=120, interval=0.5)


async def test_a_due_schedule_fires_once_with_two_workers(
    queue_client: httpx.AsyncClient,
    tenant: Tenant,
    workers: Workers,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await upsert_persons(queue_client, tenant, [audience_person(i) for i in range(30)])
    batch_id = await create_flow(queue_client, tenant, batch_flow([person_filter("plan", "pro")]))
    scheduled_id = await create_flow(queue_client, tenant, schedule_flow())
    witness_id = await create_flow(queue_client, tenant, schedule_flow())
    schedule_ids = []
    for flow_id in (batch_id, scheduled_id, witness_id):
        body = {"rrule": "FREQ=DAILY", "starts_at": "2024-01-01T00:00:00Z", "variables": {"from": "schedule"}}
        response = await queue_client.post(schedules_url(tenant, flow_id), json=body, headers=auth(tenant))
        assert response.status_code == 201, response.text
        schedule_ids.append(uuid.UUID(response.json()["id"]))
    *schedule_ids, witness = schedule_ids
    due = datetime.now(UTC) - timedelta(seconds=1)
    async with session_scope(sessionmaker) as session:
        await session.execute(
            update(HogFlowSchedule).where(HogFlowSchedule.id.in_(schedule_ids)).values(next_run_at=due)
        )

    workers.start()
    workers.start()

    async def fired() -> bool:
        async with session_scope(sessionmaker) as session:
            schedules = (
                await session.execute(select(HogFlowSchedule).where(HogFlowSchedule.id.in_(schedule_ids)))
            ).scalars()
            return all(
                s.last_run_at is not None and s.next_run_at is not None and s.next_run_at > datetime.now(UTC)
                for s in schedules
            )

    await wait_for(fired, within=30)

    async def a_later_tick() -> None:
        """Make the witness schedule due and wait until a cron tick fires it."""
        witness_due = datetime.now(UTC) - timedelta(seconds=1)
        async with session_scope(sessionmaker) as session:
            await session.execute(
                update(HogFlowSchedule).where(HogFlowSchedule.id == witness).values(next_run_at=witness_due)
            )

        async def witness_fired() -> bool:
            async with session_scope(sessionmaker) as session:
                schedule = await session.get(HogFlowSchedule, witness)
                return schedule is not None and schedule.last_run_at == witness_due

        await wait_for(witness_fired, within=30)

    # More ticks of the workers' crons, seen rather than slept through: nothing fires the others again.
    await a_later_tick()
    await a_later_tick()

    async with session_scope(sessionmaker) as session:
        jobs = (
            (await session.execute(select(HogFlowBatchJob).where(HogFlowBatchJob.hog_flow_id == uuid.UUID(batch_id))))
            .scalars()
            .all()
        )
        runs = (
            (await session.execute(select(HogFlowRun).where(HogFlowRun.hog_flow_id == uuid.UUID(scheduled_id))))
            .scalars()
            .all()
        )
    assert len(jobs) == 1
    assert jobs[0].variables == {"from": "schedule"}
    assert jobs[0].filters == {"properties": [person_filter("plan", "pro")]}
    assert len(runs) == 1
    assert runs[0].state["event"]["event"] == "$workflow_scheduled"
    assert runs[0].state["variables"] == {"from": "schedule"}

    async def job_completed() -> bool:
        async with session_scope(sessionmaker) as session:
            job = await session.get(HogFlowBatchJob, jobs[0].id)
            return job is not None and job.status == "completed" and job.runs_created == 10

    await wait_for(job_completed, within=30)
