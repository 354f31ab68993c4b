"""Ingestion throughput: PostHog batches through `/batch/` with 10, 100 and 1,000 active event flows.

    .venv/bin/python bench/ingest.py [--events 1000] [--batch 50] [--concurrency 4] [--flows 10,100,1000]
                                     [--database-url postgresql://127.0.0.1/test]

Each flow count gets a team of its own in a fresh PostgreSQL database. Flow i triggers on
`signed_up` when the event's `source` is `i % 10` and the person's plan is `pro`, so every event
runs all N trigger filters and starts N/10 runs. Events come from 1,000 persons and carry `$set`,
so person upserts are part of the cost. The app is driven in-process through ASGI; runs are created
(one INSERT per request) but not executed, and the rate limit is lifted so every match becomes a run.

Prints events/s and runs created/s per flow count, and their ratio to the 10-flow figure measured
in the same run (the baseline), plus SQL statements per request.
"""

import argparse
import asyncio
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import event, text

from app.config import Settings
from app.db.migrate import upgrade_to_head
from app.db.models import Team, User
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.ingest.services import ingest_services
from app.main import create_app
from app.schemas.hog_flow import HogFlowCreate
from app.services.bootstrap import Tenant, bootstrap_tenant
from app.services.hog_flows import create_flow

PERSONS = 1000


class NoScheduler:
    """Runs are created but not handed to workers: this measures the capture path alone."""

    async def schedule(self, run_id: uuid.UUID, pickups: int, when: datetime) -> None:
        return None


def flow_payload(index: int) -> dict[str, Any]:
    properties = [
        {"key": "source", "type": "event", "value": str(index % 10), "operator": "exact"},
        {"key": "plan", "type": "person", "value": "pro", "operator": "exact"},
    ]
    return {
        "name": f"bench {index}",
        "status": "active",
        "actions": [
            {
                "id": "trigger",
                "name": "trigger",
                "type": "trigger",
                "config": {
                    "type": "event",
                    "filters": {"events": [{"id": "signed_up", "type": "events"}], "properties": properties},
                },
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
    }


async def make_team(sessionmaker: Any, flows: int) -> Tenant:
    async with session_scope(sessionmaker) as session:
        tenant = await bootstrap_tenant(session)
        team = await session.get(Team, tenant.team_id)
        user = await session.get(User, tenant.user_id)
        assert team is not None and user is not None
        for index in range(flows):
            await create_flow(session, team, user, HogFlowCreate.model_validate(flow_payload(index)))
    return tenant


def batches(token: str, events: int, size: int) -> list[dict[str, Any]]:
    bodies = []
    for start in range(0, events, size):
        batch = [
            {
                "event": "signed_up",
                "distinct_id": f"person-{n % PERSONS}",
                "properties": {"source": str(n % 10), "$set": {"plan": "pro"}},
            }
            for n in range(start, min(start + size, events))
        ]
        bodies.append({"api_key": token, "batch": batch})
    return bodies


async def measure(app: Any, engine: Any, tenant: Tenant, args: argparse.Namespace) -> dict[str, float]:
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        warmup = batches(tenant.project_token, args.batch, args.batch)[0]
        assert (await client.post("/batch/", json=warmup)).status_code == 200
        async with session_scope(app.state.sessionmaker) as session:
            before = await session.scalar(text("SELECT count(*) FROM hog_flow_runs"))
        bodies = batches(tenant.project_token, args.events, args.batch)
        semaphore = asyncio.Semaphore(args.concurrency)

        async def send(body: dict[str, Any]) -> None:
            async with semaphore:
                response = await client.post("/batch/", json=body)
                assert response.status_code == 200, response.text

        event.listen(engine.sync_engine, "before_cursor_execute", count)
        started = time.perf_counter()
        await asyncio.gather(*(send(body) for body in bodies))
        elapsed = time.perf_counter() - started
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        async with session_scope(app.state.sessionmaker) as session:
            after = await session.scalar(text("SELECT count(*) FROM hog_flow_runs"))
    runs = int(after or 0) - int(before or 0)
    return {
        "seconds": elapsed,
        "events_per_s": args.events / elapsed,
        "runs": runs,
        "runs_per_s": runs / elapsed,
        "statements_per_request": statements / len(bodies),
    }


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(args.database_url, "hogflows_bench") as url:
        await run(args, url)


async def run(args: argparse.Namespace, url: str) -> None:
    setup_engine = create_engine(url)
    await upgrade_to_head(setup_engine)
    setup_sessions = create_sessionmaker(setup_engine)
    # REDIS_URL=None: runs are only created, never queued, whatever the environment says.
    settings = Settings(
        DATABASE_URL=url, REDIS_URL=None, HOGFLOWS_TRIGGER_RATE_LIMIT_BUCKET=10**9, HOGFLOWS_LOG_LEVEL="WARNING"
    )
    app = create_app(settings)
    scheduler = NoScheduler()
    app.state.scheduler = scheduler
    app.state.ingest = ingest_services(settings, scheduler)
    results: dict[int, dict[str, float]] = {}
    for flows in args.flows:
        setup_started = time.perf_counter()
        tenant = await make_team(setup_sessions, flows)
        setup = time.perf_counter() - setup_started
        results[flows] = await measure(app, app.state.engine, tenant, args)
        print(f"  {flows} flows created in {setup:.1f} s; measured", file=sys.stderr)
    await app.state.engine.dispose()
    await setup_engine.dispose()
    baseline = results[args.flows[0]]
    print(f"{args.events} events per flow count, batches of {args.batch}, {args.concurrency} requests at once")
    print(f"{'flows':>6} {'events/s':>10} {'ratio':>7} {'runs':>7} {'runs/s':>10} {'ratio':>7} {'SQL/request':>12}")
    for flows, result in results.items():
        print(
            f"{flows:>6} {result['events_per_s']:>10,.0f} {result['events_per_s'] / baseline['events_per_s']:>7.3f}"
            f" {int(result['runs']):>7} {result['runs_per_s']:>10,.0f}"
            f" {result['runs_per_s'] / baseline['runs_per_s']:>7.2f} {result['statements_per_request']:>12.1f}"
        )
    print(f"(ratios against {args.flows[0]} flows, the baseline measured in this run)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--flows", type=lambda value: [int(part) for part in value.split(",")], default=[10, 100, 1000])
    parser.add_argument("--database-url", default="postgresql+asyncpg://127.0.0.1:5432/test")
    asyncio.run(main(parser.parse_args()))
