"""Batch job throughput: one job over N persons (default 100,000) on PostgreSQL, in a database of its own.

    .venv/bin/python bench/batch.py [--persons 100000] [--page-size 500] [--database-url postgresql://127.0.0.1/test]

For each audience filter, the same job runs twice through `BatchJobRunner` (what a worker does:
claim, page through persons by id, insert one run per match and move the cursor, one transaction
per page; queueing the runs is left out):

- with the SQL pushdown (PostgreSQL decides what it can, the VM the rest), and
- as the baseline measured in the same run, with the VM alone judging every person (the SQLite path).

Prints persons resolved per second, runs created per second, and the ratio pushdown/VM-only.
Both paths must select exactly the same persons.
"""

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select, text

from app.batch.resolver import BatchJobRunner, BatchOptions
from app.crypto import DEFAULT_SECRET_KEY, SecretBox
from app.db.base import uuid7
from app.db.migrate import upgrade_to_head
from app.db.models import HogFlowBatchJob, HogFlowRun, Person, PersonDistinctId, Team, User
from app.db.repositories.audiences import AudienceRepository
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.schemas.hog_flow import HogFlowCreate
from app.services.bootstrap import bootstrap_tenant
from app.services.hog_flows import create_flow

# The benches' flows hold no secret inputs: any key seals nothing.
BENCH_BOX = SecretBox([DEFAULT_SECRET_KEY])

PLANS = ["free", "pro", "enterprise", "Pro"]
COUNTRIES = ["CZ", "DE", "FR", "US", "GB", "BR", "JP"]


def person(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "type": "person", "operator": operator}


AUDIENCES: dict[str, list[dict[str, Any]]] = {
    "plan = pro AND age > 30 (all in SQL)": [person("plan", "pro"), person("age", 30, "gt")],
    "email icontains 'example.org' OR country in (CZ, DE) (mostly SQL)": [
        {"type": "OR", "values": [person("email", "example.org", "icontains"), person("country", ["CZ", "DE"], "in")]}
    ],
    "signed_up before 2024-06-01 AND plan != free (date part in the VM)": [
        person("signed_up", "2024-06-01", "is_date_before"),
        person("plan", "free", "is_not"),
    ],
}


class DiscardingScheduler:
    async def schedule(self, run_id: uuid.UUID, pickups: int, when: datetime) -> None:
        return None


class DiscardingQueue:
    async def enqueue(self, job_id: uuid.UUID, token: str) -> None:
        return None


@contextmanager
def vm_only() -> Iterator[None]:
    """The baseline: no SQL pushdown, every person of the team goes through the VM (as on SQLite)."""
    original = AudienceRepository.pushdown
    AudienceRepository.pushdown = lambda self, audience: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        AudienceRepository.pushdown = original  # type: ignore[method-assign]


def person_row(index: int, team_id: int, rng: random.Random) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "plan": rng.choice(PLANS),
        "age": rng.randint(16, 80) if rng.random() > 0.05 else str(rng.randint(16, 80)),
        "email": f"user{index}@{rng.choice(['example.com', 'example.org', 'mail.test'])}",
        "signed_up": f"{rng.randint(2022, 2025)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }
    if rng.random() > 0.2:
        properties["country"] = rng.choice(COUNTRIES)
    return {"id": uuid7(), "team_id": team_id, "properties": properties}


async def seed(sessionmaker: Any, team_id: int, count: int) -> None:
    rng = random.Random(42)
    now = datetime.now(UTC)
    for start in range(0, count, 5_000):
        rows = [person_row(i, team_id, rng) for i in range(start, min(start + 5_000, count))]
        async with session_scope(sessionmaker) as session:
            await session.execute(insert(Person), [{**row, "created_at": now, "updated_at": now} for row in rows])
            await session.execute(
                insert(PersonDistinctId),
                [{"team_id": team_id, "distinct_id": f"user-{row['id']}", "person_id": row["id"]} for row in rows],
            )


async def run_job(sessionmaker: Any, flow: Any, page_size: int) -> tuple[float, int, set[str]]:
    async with session_scope(sessionmaker) as session:
        job = HogFlowBatchJob(team_id=flow.team_id, hog_flow_id=flow.id, status="queued", filters={}, variables={})
        session.add(job)
        await session.flush()
        job_id = job.id
    options = BatchOptions(page_size=page_size, slice_seconds=3600)
    runner = BatchJobRunner(sessionmaker, DiscardingScheduler(), DiscardingQueue(), options, owner="bench")
    started = time.perf_counter()
    status = await runner.run(job_id)
    elapsed = time.perf_counter() - started
    assert status == "completed", status
    async with session_scope(sessionmaker) as session:
        stored = await session.get(HogFlowBatchJob, job_id)
        assert stored is not None
        people = (
            await session.execute(select(HogFlowRun.distinct_id).where(HogFlowRun.parent_run_id == str(job_id)))
        ).scalars()
        return elapsed, stored.runs_created, {p or "" for p in people}


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(args.database_url, "hogflows_bench") as url:
        await run(args, url)


async def run(args: argparse.Namespace, url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        async with session_scope(sessionmaker) as session:
            tenant = await bootstrap_tenant(session)
        seeding = time.perf_counter()
        await seed(sessionmaker, tenant.team_id, args.persons)
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))
            await connection.commit()
        print(f"persons:                  {args.persons:,} (seeded in {time.perf_counter() - seeding:.1f}s)")
        print(f"page size:                {args.page_size}")
        for label, properties in AUDIENCES.items():
            async with session_scope(sessionmaker) as session:
                team = await session.get(Team, tenant.team_id)
                user = await session.get(User, tenant.user_id)
                assert team is not None and user is not None
                payload = {
                    "name": label,
                    "status": "active",
                    "actions": [
                        {
                            "id": "trigger",
                            "name": "trigger",
                            "type": "trigger",
                            "config": {"type": "batch", "filters": {"properties": properties}},
                        },
                        {"id": "done", "name": "done", "type": "exit", "config": {}},
                    ],
                    "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
                }
                flow = await create_flow(session, team, user, HogFlowCreate.model_validate(payload), BENCH_BOX)
            pushed_time, pushed_runs, pushed_people = await run_job(sessionmaker, flow, args.page_size)
            with vm_only():
                vm_time, vm_runs, vm_people = await run_job(sessionmaker, flow, args.page_size)
            assert pushed_people == vm_people and pushed_runs == vm_runs, "the two paths disagree"
            print(f"\naudience: {label}")
            print(f"  runs created:           {pushed_runs:,} ({pushed_runs / args.persons:.1%} of persons)")
            print(
                f"  SQL pushdown:           {args.persons / pushed_time:,.0f} persons/s resolved, "
                f"{pushed_runs / pushed_time:,.0f} runs/s created ({pushed_time:.2f}s)"
            )
            print(
                f"  VM only (baseline):     {args.persons / vm_time:,.0f} persons/s resolved, "
                f"{vm_runs / vm_time:,.0f} runs/s created ({vm_time:.2f}s)"
            )
            print(f"  ratio pushdown/VM-only: {vm_time / pushed_time:.2f}x")
        async with session_scope(sessionmaker) as session:
            total = await session.scalar(select(func.count()).select_from(HogFlowRun))
        print(f"\nruns in the database:     {total:,}")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--database-url", default="postgresql+asyncpg://127.0.0.1:5432/test")
    asyncio.run(main(parser.parse_args()))
