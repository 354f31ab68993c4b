"""Ingestion throughput over HTTP with 10, 100 and 1,000 active event flows.

    .venv/bin/python bench/ingest.py [--events 1000] [--batch 50] [--connections 4] [--repeats 3]
                                     [--flows 10,100,1000] [--flow-names 100]
                                     [--database-url postgresql+asyncpg://127.0.0.1:5432/test]
                                     [--redis-url redis://127.0.0.1:6379/8]

One `hogflows` API process (uvicorn, PostgreSQL + Redis as in production; runs are queued on a queue
of the bench's own that no worker reads) and one team per flow count. Flow i triggers on the event
`event_<i % flow-names>` when the event's `source` is `i // 100` and the person's plan is `pro`.
Events are spread over 10 names (`event_0` … `event_9`) with `source` 0, from 1,000 persons that
carry `$set`, so person upserts are part of the cost; every event starts exactly one run at every
flow count. With the default 100 flow names an event names 1, 1 and 10 flows at 10, 100 and 1,000
flows; `--flow-names 10` puts every flow on the events' 10 names (100 flows named per event at 1,000).
The trigger rate limit is lifted so every match becomes a run.

Batches of `--batch` events go to `/batch/` over `--connections` keep-alive connections. Flow counts
are measured interleaved, `--repeats` times; prints events/s (median, min-max) per flow count and the
ratio of medians to the first flow count's, the baseline measured in the same run.
"""

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.crypto import DEFAULT_SECRET_KEY, SecretBox
from app.db.migrate import upgrade_to_head
from app.db.models import Team, User
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.schemas.hog_flow import HogFlowCreate
from app.services.bootstrap import Tenant, bootstrap_tenant
from app.services.hog_flows import create_flow
from bench.api import clear_queue
from bench.http_load import Connection, free_port, start_server, wait_ready

# The benches' flows hold no secret inputs: any key seals nothing.
BENCH_BOX = SecretBox([DEFAULT_SECRET_KEY])

PERSONS = 1000


def flow_payload(index: int, flow_names: int) -> dict[str, Any]:
    properties = [
        {"key": "source", "type": "event", "value": str(index // 100), "operator": "exact"},
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
                    "filters": {
                        "events": [{"id": f"event_{index % flow_names}", "type": "events"}],
                        "properties": properties,
                    },
                },
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
    }


async def make_teams(url: str, counts: list[int], flow_names: int) -> dict[int, Tenant]:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    tenants = {}
    for flows in counts:
        started = time.perf_counter()
        async with session_scope(create_sessionmaker(engine)) as session:
            tenant = await bootstrap_tenant(session)
            team = await session.get(Team, tenant.team_id)
            user = await session.get(User, tenant.user_id)
            assert team is not None and user is not None
            for index in range(flows):
                await create_flow(
                    session, team, user, HogFlowCreate.model_validate(flow_payload(index, flow_names)), BENCH_BOX
                )
        tenants[flows] = tenant
        print(f"  {flows} flows created in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    await engine.dispose()
    return tenants


def batches(token: str, events: int, size: int) -> list[bytes]:
    bodies = []
    for start in range(0, events, size):
        batch = [
            {
                "event": f"event_{n % 10}",
                "distinct_id": f"person-{n % PERSONS}",
                "properties": {"source": "0", "$set": {"plan": "pro"}},
            }
            for n in range(start, min(start + size, events))
        ]
        bodies.append(json.dumps({"api_key": token, "batch": batch}).encode())
    return bodies


async def measure(port: int, bodies: list[bytes], connections: int) -> float:
    """Events per second for sending every body once over `connections` connections."""
    queue = list(reversed(bodies))
    events = sum(body.count(b'"event"') for body in bodies)

    async def worker() -> None:
        connection = await Connection.open(port)
        try:
            while queue:
                body = queue.pop()
                status, answer = await connection.request("POST", "/batch/", {"Content-Type": "application/json"}, body)
                if status != 200:
                    raise RuntimeError(f"/batch/ answered {status}: {answer[:300]!r}")
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return events / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(args.database_url, "hogflows_bench") as url:
        tenants = await make_teams(url, args.flows, args.flow_names)
        queue = f"hogflows:bench:{uuid.uuid4().hex[:8]}"
        port = free_port()
        env = {
            "DATABASE_URL": url,
            "REDIS_URL": args.redis_url,
            "HOGFLOWS_QUEUE_NAME": queue,
            "HOGFLOWS_LOG_LEVEL": "WARNING",
            "HOGFLOWS_TRIGGER_RATE_LIMIT_BUCKET": str(10**9),
        }
        server = start_server("app.main:create_app", port, env)
        try:
            await run(args, tenants, port, server.pid)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
            await clear_queue(args.redis_url, queue)


async def run(args: argparse.Namespace, tenants: dict[int, Tenant], port: int, pid: int) -> None:
    first = tenants[args.flows[0]]
    await wait_ready(
        port, f"/api/environments/{first.team_id}/hog_flows/", {"Authorization": f"Bearer {first.api_key}"}
    )
    bodies = {flows: batches(tenant.project_token, args.events, args.batch) for flows, tenant in tenants.items()}
    for flows in args.flows:  # warm-up: persons exist, caches are loaded
        await measure(port, bodies[flows][:4], args.connections)
    if args.profile:
        for flows in args.flows:
            command = ["py-spy", "record", "-p", str(pid), "-d", "5", "-f", "raw", "-o", f"{args.profile}-{flows}.txt"]
            spy = await asyncio.create_subprocess_exec(*command)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                await measure(port, bodies[flows], args.connections)
            await spy.wait()
    results: dict[int, list[float]] = {flows: [] for flows in args.flows}
    for repeat in range(args.repeats):
        for flows in args.flows:
            results[flows].append(await measure(port, bodies[flows], args.connections))
        print(f"  repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    baseline = statistics.median(results[args.flows[0]])
    print(
        f"{args.events} events per measurement in batches of {args.batch} over {args.connections} connections,",
        f"events over 10 names, flows over {args.flow_names} names, medians of {args.repeats} interleaved repeats",
    )
    print(f"{'flows':>6} {'events/s':>10} {'min-max':>15} {'ratio':>7}")
    for flows, values in results.items():
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        print(
            f"{flows:>6} {statistics.median(values):>10,.0f} {spread:>15} {statistics.median(values) / baseline:>7.2f}"
        )
    print(f"(ratios against {args.flows[0]} flows, measured in this run)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flows", type=lambda value: [int(part) for part in value.split(",")], default=[10, 100, 1000])
    parser.add_argument("--flow-names", type=int, default=100)
    parser.add_argument(
        "--profile", help="also write py-spy profiles of the server to PREFIX-<flows>.txt (needs py-spy on PATH)"
    )
    parser.add_argument("--database-url", default="postgresql+asyncpg://127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8"))
    asyncio.run(main(parser.parse_args()))
