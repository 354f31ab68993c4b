"""Engine throughput: N runs of a 5-step flow through the real worker path on PostgreSQL.

    .venv/bin/python bench/engine.py [--runs 500] [--concurrency 20] [--database-url postgresql://127.0.0.1/test]

The runs are created first, then a worker's `RunPool` (fair batch claims, concurrent pickups, group
commit of results: what `hogflows worker` does) executes them all. Prints steps per second, the
duration of one pickup (claim excluded: from execution start to its result stored; p50/p99), the
PostgreSQL round-trips per run (every statement, through SQLAlchemy or straight on the asyncpg
connection, BEGIN and COMMIT/ROLLBACK, and a ping per checkout when the pool pings) and, as the
baseline measured in the same process, the same flow executed in memory by the engine alone. The
ratio says what persistence costs.
"""

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, text

from app.config import Settings
from app.crypto import DEFAULT_SECRET_KEY, SecretBox
from app.db.base import utcnow
from app.db.migrate import upgrade_to_head
from app.db.models import Team, User
from app.db.repositories.runs import RunRepository
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.engine.executor import execute_pickup
from app.engine.invocation import Invocation, default_variables, initial_state
from app.logging import configure_logging
from app.schemas.hog_flow import HogFlowCreate
from app.services.bootstrap import bootstrap_tenant
from app.services.hog_flows import create_flow
from app.services.runs import manual_event
from app.worker.pool import RunPool
from app.worker.processor import RunProcessor, flow_snapshot
from app.worker.scheduling import WakeUpScheduler

# The benches' flows hold no secret inputs: any key seals nothing.
BENCH_BOX = SecretBox([DEFAULT_SECRET_KEY])

VARIABLE_IS_A = {"properties": [{"key": "cohort", "type": "workflow_variable", "value": "a", "operator": "exact"}]}
FLOW: dict[str, Any] = {
    "name": "bench",
    "status": "active",
    "actions": [
        {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
        {
            "id": "check",
            "name": "check",
            "type": "conditional_branch",
            "config": {
                "conditions": [
                    {
                        "filters": {
                            "properties": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]
                        }
                    }
                ]
            },
        },
        {"id": "pause", "name": "pause", "type": "delay", "config": {"delay_duration": "0m"}},
        {
            "id": "split",
            "name": "split",
            "type": "random_cohort_branch",
            "config": {"cohorts": [{"percentage": 100}]},
            "output_variable": {"key": "cohort", "result_path": "assigned_cohort"},
        },
        {
            "id": "route",
            "name": "route",
            "type": "conditional_branch",
            "config": {"conditions": [{"filters": VARIABLE_IS_A}]},
        },
        {"id": "done", "name": "done", "type": "exit", "config": {}},
    ],
    "edges": [
        {"from": "trigger", "to": "check", "type": "continue"},
        {"from": "check", "to": "pause", "type": "continue"},
        {"from": "check", "to": "pause", "type": "branch", "index": 0},
        {"from": "pause", "to": "split", "type": "continue"},
        {"from": "split", "to": "route", "type": "branch", "index": 0},
        {"from": "route", "to": "done", "type": "continue"},
        {"from": "route", "to": "done", "type": "branch", "index": 0},
    ],
}
STEPS_PER_RUN = 5


async def in_memory_baseline(flow: Any, runs: int) -> float:
    snapshot = flow_snapshot(flow)
    started = time.perf_counter()
    for _ in range(runs):
        state = initial_state(manual_event("bench", utcnow()), default_variables(flow.variables))
        outcome = await execute_pickup(Invocation(id=str(uuid.uuid4()), flow=snapshot, state=state))
        assert outcome.status == "completed", outcome.error
    return runs * STEPS_PER_RUN / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    configure_logging("WARNING")
    async with scratch_database(args.database_url, "hogflows_bench") as url:
        await run(args, url)


async def run(args: argparse.Namespace, url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        async with session_scope(sessionmaker) as session:
            tenant = await bootstrap_tenant(session)
            team = await session.get(Team, tenant.team_id)
            user = await session.get(User, tenant.user_id)
            assert team is not None and user is not None
            flow = await create_flow(session, team, user, HogFlowCreate.model_validate(FLOW), BENCH_BOX)
            repo = RunRepository(session)
            run_ids = []
            for index in range(args.runs):
                state = initial_state(manual_event(f"user-{index}", utcnow()), default_variables(flow.variables))
                run = await repo.create(
                    team_id=team.id, hog_flow_id=flow.id, state=state, now=utcnow(), distinct_id=f"user-{index}"
                )
                run_ids.append(run.id)

        round_trips = 0

        def count(*_: Any) -> None:
            nonlocal round_trips
            round_trips += 1

        def count_cursor(*args: Any) -> None:
            if not args[-1]:  # executemany: asyncpg's own logger counts it
                count()

        def log_driver(connection: Any, _record: Any) -> None:
            connection.driver_connection.add_query_logger(count)

        # Statements go two ways: SQLAlchemy's cursor (prepared statements, seen by `before_cursor_execute`)
        # and straight on the asyncpg connection (app/db/asyncpg_direct.py), with BEGIN, COMMIT and ROLLBACK,
        # which asyncpg's query logger sees. The pool starts over so that every connection has the logger.
        await engine.dispose()
        listeners = [("before_cursor_execute", count_cursor), ("connect", log_driver)]
        if engine.sync_engine.pool._pre_ping:
            listeners.append(("engine_connect", count))
        for name, listener in listeners:
            event.listen(engine.sync_engine, name, listener)
        processor = RunProcessor(sessionmaker, WakeUpScheduler(), Settings())
        pickups: list[float] = []
        all_done = asyncio.Event()
        run_claimed = processor.run_claimed

        async def timed(pickup: Any) -> str:
            started = time.perf_counter()
            try:
                return await run_claimed(pickup)
            finally:
                pickups.append((time.perf_counter() - started) * 1000)
                if len(pickups) >= args.runs:
                    all_done.set()

        processor.run_claimed = timed  # type: ignore[method-assign]
        pool = RunPool(processor, concurrency=args.concurrency, team_cap=args.concurrency)
        started = time.perf_counter()
        pool.start()
        await all_done.wait()
        elapsed = time.perf_counter() - started
        await pool.close(5)
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)

        async with session_scope(sessionmaker) as session:
            rows = (await session.execute(text("SELECT status, created_at, finished_at FROM hog_flow_runs"))).all()
        completed = [row for row in rows if row[0] == "completed"]
        latencies = sorted(pickups)
        steps = len(completed) * STEPS_PER_RUN
        baseline = await in_memory_baseline(flow, args.runs)
        persisted = steps / elapsed
        print(f"runs completed:           {len(completed)}/{args.runs} (concurrency {args.concurrency})")
        print(f"steps/s with PostgreSQL:  {persisted:,.0f}")
        print(f"steps/s in memory:        {baseline:,.0f}  (baseline, same process)")
        print(f"ratio persisted/memory:   {persisted / baseline:.3f}")
        print(f"one pickup p50:           {statistics.median(latencies):.1f} ms (execute + store, claim excluded)")
        print(f"one pickup p99:           {latencies[int(len(latencies) * 0.99) - 1]:.1f} ms")
        print(f"PostgreSQL round-trips:   {round_trips / len(completed):.1f} per run (statements, BEGIN, COMMIT)")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--database-url", default="postgresql+asyncpg://127.0.0.1:5432/test")
    asyncio.run(main(parser.parse_args()))
