"""API throughput against a bare FastAPI + asyncpg floor measured in the same run.

    .venv/bin/python bench/api.py [--seconds 4] [--repeats 3] [--connections 8]
                                  [--database-url postgresql+asyncpg://127.0.0.1:5432/test]
                                  [--redis-url redis://127.0.0.1:6379/8]

Two uvicorn processes on loopback, started the same way (uvloop, httptools, no access log):
`hogflows` (`app.main:create_app`, PostgreSQL + Redis as in production, so authentication, the per-key
rate limit and the run queue are all in the path) and the floor (`bench/api_floor.py`: one
`SELECT … WHERE id=$1` on an asyncpg pool, no auth). A team holds 25 flows (a trigger, a delay, a
webhook function step and an exit each) of which 10 are active event flows on 10 event names.

Scenarios, each run for `--seconds` against both servers, interleaved, `--repeats` times:
- `GET` one flow (`{p}/hog_flows/{id}/`, personal API key);
- `GET` a list of 20 (`{p}/hog_flows/?limit=20`);
- `POST /capture/` with one event (names spread over the 10 flows' events; runs are queued, not run).
The load comes from a keep-alive HTTP/1.1 client of a few lines on raw asyncio streams with
`--connections` connections, so the client costs little next to either server. Prints req/s per
scenario (median over repeats, with min-max), the ratio to the floor's median, and the CPU time spent
per request (from /proc; less sensitive to a busy machine than req/s) by the server process, by the
PostgreSQL backends of the bench database, and by redis-server (the whole process: other clients of that
server count too). On 2 cores the three share the CPU, so all of them bound the rate.
The per-key rate limit is raised to 10^9/minute so it is measured but never refuses.
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.crypto import DEFAULT_SECRET_KEY, SecretBox  # noqa: E402
from app.db.migrate import upgrade_to_head  # noqa: E402
from app.db.models import Team, User  # noqa: E402
from app.db.scratch import scratch_database  # noqa: E402
from app.db.session import create_engine, create_sessionmaker, session_scope  # noqa: E402
from app.schemas.hog_flow import HogFlowCreate  # noqa: E402
from app.services.bootstrap import Tenant, bootstrap_tenant  # noqa: E402
from app.services.hog_flows import create_flow  # noqa: E402
from bench.http_load import cpu_seconds, free_port, load, start_server, wait_ready  # noqa: E402

# The benches' flows hold no secret inputs: any key seals nothing.
BENCH_BOX = SecretBox([DEFAULT_SECRET_KEY])

EVENT_NAMES = [f"event_{n}" for n in range(10)]


def flow_payload(index: int, event_name: str, status: str) -> dict[str, Any]:
    return {
        "name": f"bench flow {index}",
        "description": "A realistic flow: trigger, delay, webhook, exit.",
        "status": status,
        "actions": [
            {
                "id": "trigger",
                "name": "trigger",
                "type": "trigger",
                "config": {
                    "type": "event",
                    "filters": {
                        "events": [{"id": event_name, "type": "events"}],
                        "properties": [{"key": "plan", "type": "event", "value": "pro", "operator": "exact"}],
                    },
                },
            },
            {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": "1h"}},
            {
                "id": "hook",
                "name": "hook",
                "type": "function",
                "config": {
                    "template_id": "template-webhook",
                    "inputs": {
                        "url": {"value": "https://example.com/hook"},
                        "body": {"value": {"event": "{event.event}", "person": "{person.id}"}},
                    },
                },
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "wait", "type": "continue"},
            {"from": "wait", "to": "hook", "type": "continue"},
            {"from": "hook", "to": "done", "type": "continue"},
        ],
    }


async def make_team(url: str) -> tuple[Tenant, list[str]]:
    engine = create_engine(url)
    await upgrade_to_head(engine)
    flow_ids = []
    async with session_scope(create_sessionmaker(engine)) as session:
        tenant = await bootstrap_tenant(session)
        team = await session.get(Team, tenant.team_id)
        user = await session.get(User, tenant.user_id)
        assert team is not None and user is not None
        for index in range(25):
            status = "active" if index < 10 else "draft"
            payload = HogFlowCreate.model_validate(flow_payload(index, EVENT_NAMES[index % 10], status))
            flow = await create_flow(session, team, user, payload, BENCH_BOX)
            flow_ids.append(str(flow.id))
    await engine.dispose()
    return tenant, flow_ids


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(args.database_url, "hogflows_bench") as url:
        tenant, flow_ids = await make_team(url)
        queue = f"hogflows:bench:{uuid.uuid4().hex[:8]}"
        app_port, floor_port = free_port(), free_port()
        app_env = {
            "DATABASE_URL": url,
            "REDIS_URL": args.redis_url,
            "HOGFLOWS_QUEUE_NAME": queue,
            "HOGFLOWS_LOG_LEVEL": "WARNING",
            "HOGFLOWS_API_RATE_LIMIT_BURST": "1000000000/minute",
            "HOGFLOWS_API_RATE_LIMIT_SUSTAINED": "1000000000/hour",
        }
        servers = [
            start_server("app.main:create_app", app_port, app_env),
            start_server("bench.api_floor:app", floor_port, {"DATABASE_URL": url}),
        ]
        try:
            await run(args, tenant, flow_ids, app_port, floor_port, servers[0].pid, servers[1].pid, url)
        finally:
            for server in servers:
                server.send_signal(signal.SIGINT)
            for server in servers:
                server.wait(timeout=30)
            await clear_queue(args.redis_url, queue)


async def clear_queue(redis_url: str, queue: str) -> None:
    redis = Redis.from_url(redis_url)
    keys = [key async for key in redis.scan_iter("arq:job:*")] + [queue.encode()]
    for start in range(0, len(keys), 500):
        await redis.delete(*keys[start : start + 500])
    await redis.aclose()


async def run(
    args: argparse.Namespace,
    tenant: Tenant,
    flow_ids: list[str],
    app_port: int,
    floor_port: int,
    app_pid: int,
    floor_pid: int,
    url: str,
) -> None:
    prefix = f"/api/environments/{tenant.team_id}/hog_flows"
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    await wait_ready(app_port, f"{prefix}/", auth)
    await wait_ready(floor_port, f"/flows/{flow_ids[0]}", {})
    json_headers = {"Content-Type": "application/json"}
    captures = [
        json.dumps(
            {
                "api_key": tenant.project_token,
                "event": EVENT_NAMES[n % 10],
                "distinct_id": f"person-{n % 100}",
                "properties": {"plan": "pro" if n % 2 else "free"},
            }
        ).encode()
        for n in range(200)
    ]
    scenarios: dict[str, list[tuple[str, str, dict[str, str], bytes]]] = {
        "GET one flow": [("GET", f"{prefix}/{flow_id}/", auth, b"") for flow_id in flow_ids],
        "GET list of 20": [("GET", f"{prefix}/?limit=20", auth, b"")],
        "POST /capture/, one event": [("POST", "/capture/", json_headers, body) for body in captures],
    }
    floor = [("GET", f"/flows/{flow_id}", {}, b"") for flow_id in flow_ids]
    # Warm both servers (connections, caches, code paths) before anything is timed.
    for requests in [*scenarios.values()]:
        await load(app_port, requests, 1.0, args.connections)
    await load(floor_port, floor, 1.0, args.connections)
    if args.profile:
        # One py-spy profile (collapsed stacks) of the app per scenario, taken outside the timed repeats.
        for name, requests in scenarios.items():
            out = f"{args.profile}-{name.split()[1].strip('/,')}.txt"
            command = ["py-spy", "record", "-p", str(app_pid), "-d", "6", "-f", "raw", "-o", out]
            spy = await asyncio.create_subprocess_exec(*command)
            await load(app_port, requests, 6.0, args.connections)
            await spy.wait()
    results: dict[str, list[float]] = {name: [] for name in ["floor", *scenarios]}
    cpu: dict[str, list[tuple[float, float, float]]] = {name: [] for name in results}
    database = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    redis = Redis.from_url(args.redis_url)
    redis_pid = int((await redis.info("server"))["process_id"])
    await redis.aclose()

    async def measure(name: str, port: int, pid: int, requests: list[tuple[str, str, dict[str, str], bytes]]) -> None:
        # The servers' pools keep their connections: the backends at the start serve the measurement.
        backends = [
            row[0]
            for row in await database.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        before = [cpu_seconds(pid), _cpu_of(backends), _cpu_of([redis_pid])]
        rate = await load(port, requests, args.seconds, args.connections)
        results[name].append(rate)
        after = [cpu_seconds(pid), _cpu_of(backends), _cpu_of([redis_pid])]
        server, postgres, redis_server = (
            1000 * (b - a) / (rate * args.seconds) for a, b in zip(before, after, strict=True)
        )
        cpu[name].append((server, postgres, redis_server))

    for repeat in range(args.repeats):
        for name, requests in scenarios.items():
            await measure("floor", floor_port, floor_pid, floor)
            await measure(name, app_port, app_pid, requests)
        print(f"  repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    await database.close()
    floor_median = statistics.median(results["floor"])
    print(
        f"{args.connections} connections, {args.seconds:g} s per measurement,",
        f"medians of {args.repeats} interleaved repeats",
    )
    print(
        f"{'scenario':<28} {'req/s median':>13} {'min-max':>15} {'ratio to floor':>15} {'server CPU ms/req':>18}",
        f"{'postgres':>9} {'redis':>6}",
    )
    for name, values in results.items():
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        ratio = statistics.median(values) / floor_median
        server, postgres, redis_server = (statistics.median(row[i] for row in cpu[name]) for i in range(3))
        print(
            f"{name:<28} {statistics.median(values):>13,.0f} {spread:>15} {ratio:>15.2f} {server:>18.2f}",
            f"{postgres:>9.3f} {redis_server:>6.3f}",
        )
    print("(floor: bare FastAPI + asyncpg `SELECT … WHERE id=$1`, measured before each scenario in this run)")


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):  # a backend that has gone
            total += cpu_seconds(pid)
    return total


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--database-url", default="postgresql+asyncpg://127.0.0.1:5432/test")
    parser.add_argument(
        "--profile", help="also write py-spy profiles of the app to PREFIX-<scenario>.txt (needs py-spy on PATH)"
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8"))
    asyncio.run(main(parser.parse_args()))
