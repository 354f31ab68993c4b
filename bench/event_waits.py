"""Wake-up latency of an event wait and of a property conversion, against starting a run, on the
embedded runner and PostgreSQL.

    .venv/bin/python bench/event_waits.py [--repeats 15] [--database-url postgresql+asyncpg://127.0.0.1:5432/test]
                                          [--redis-url redis://127.0.0.1:6379/N]

Two active flows in a fresh database, driven in-process through ASGI `/capture/`:
`started -> exit` (the baseline: capture to completion of a new run) and
`added_to_cart -> wait_until_condition(checkout, 1h) -> exit` (capture of `checkout` to completion of
the parked run), and `signed_up -> delay(1h) -> exit` exiting on a person-property conversion (capture of
`$set: {plan: pro}` to completion of the parked run). Runs execute on the app's embedded runner, and
with `--redis-url` also on one `hogflows worker` process (that Redis database is used for the queue).
Repeats are interleaved; prints the medians and the ratios wake-up / start per runner. The issue's
target is a wake-up within 1 s; a ratio near 1 means waking costs what starting does.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import text

from app.config import Settings
from app.crypto import DEFAULT_SECRET_KEY, SecretBox
from app.db.migrate import upgrade_to_head
from app.db.models import Team, User
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.main import create_app
from app.schemas.hog_flow import HogFlowCreate
from app.services.bootstrap import Tenant, bootstrap_tenant
from app.services.hog_flows import create_flow

# The benches' flows hold no secret inputs: any key seals nothing.
BENCH_BOX = SecretBox([DEFAULT_SECRET_KEY])

ROOT = Path(__file__).resolve().parents[1]
POLL = 0.005


def trigger(event: str) -> dict[str, Any]:
    filters = {"events": [{"id": event, "type": "events"}]}
    return {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "event", "filters": filters}}


EXIT = {"id": "done", "name": "done", "type": "exit", "config": {}}
START_FLOW = {
    "name": "start",
    "status": "active",
    "actions": [trigger("started"), EXIT],
    "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
}
WAIT_FLOW = {
    "name": "wait",
    "status": "active",
    "actions": [
        trigger("added_to_cart"),
        {
            "id": "wait",
            "name": "wait",
            "type": "wait_until_condition",
            "config": {
                "events": [{"filters": {"events": [{"id": "checkout", "type": "events"}]}}],
                "max_wait_duration": "1h",
            },
        },
        EXIT,
    ],
    "edges": [
        {"from": "trigger", "to": "wait", "type": "continue"},
        {"from": "wait", "to": "done", "type": "branch", "index": 0},
        {"from": "wait", "to": "done", "type": "continue"},
    ],
}


CONVERSION_FLOW = {
    "name": "convert",
    "status": "active",
    "exit_condition": "exit_on_conversion",
    "conversion": {"filters": [{"key": "plan", "type": "person", "operator": "exact", "value": ["pro"]}]},
    "actions": [
        trigger("signed_up"),
        {"id": "nap", "name": "nap", "type": "delay", "config": {"delay_duration": "1h"}},
        EXIT,
    ],
    "edges": [
        {"from": "trigger", "to": "nap", "type": "continue"},
        {"from": "nap", "to": "done", "type": "continue"},
    ],
}


async def capture(client: httpx.AsyncClient, tenant: Tenant, event: str, distinct_id: str, **properties: Any) -> None:
    body = {"api_key": tenant.project_token, "event": event, "distinct_id": distinct_id, "properties": properties}
    response = await client.post("/capture/", json=body)
    response.raise_for_status()


async def run_status(engine: Any, distinct_id: str) -> tuple[str, str | None] | None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT status, current_action_id FROM hog_flow_runs WHERE distinct_id = :d"), {"d": distinct_id}
            )
        ).first()
    return (row[0], row[1]) if row else None


async def until(engine: Any, distinct_id: str, status: str, action: str | None = None) -> None:
    while True:
        found = await run_status(engine, distinct_id)
        if found and found[0] == status and (action is None or found[1] == action):
            return
        await asyncio.sleep(POLL)


async def main(args: argparse.Namespace) -> None:
    async with scratch_database(args.database_url, "hogflows_bench") as url:
        setup_engine = create_engine(url)
        await upgrade_to_head(setup_engine)
        sessions = create_sessionmaker(setup_engine)
        async with session_scope(sessions) as session:
            tenant = await bootstrap_tenant(session)
            team = await session.get(Team, tenant.team_id)
            user = await session.get(User, tenant.user_id)
            assert team is not None and user is not None
            for flow in (START_FLOW, WAIT_FLOW, CONVERSION_FLOW):
                await create_flow(session, team, user, HogFlowCreate.model_validate(flow), BENCH_BOX)
        results = {"embedded runner": await measure(url, None, setup_engine, tenant, args.repeats)}
        if args.redis_url:
            results["1 worker process"] = await measure(url, args.redis_url, setup_engine, tenant, args.repeats)
        await setup_engine.dispose()
    print(f"{args.repeats} interleaved repeats, PostgreSQL; capture -> completed, medians (max)")
    for runner, (starts, wakes, converts) in results.items():
        start, wake, convert = statistics.median(starts), statistics.median(wakes), statistics.median(converts)
        print(
            f"{runner:>17}: start a run {start * 1000:7.1f} ms ({max(starts) * 1000:7.1f})"
            f"   wake a wait {wake * 1000:7.1f} ms ({max(wakes) * 1000:7.1f})   ratio wake/start {wake / start:.2f}"
            f"   convert {convert * 1000:7.1f} ms ({max(converts) * 1000:7.1f})   ratio convert/start"
            f" {convert / start:.2f}"
        )
    print("(target: a wake-up within 1000 ms)")


def start_worker(url: str, redis_url: str, queue: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "HOGFLOWS_QUEUE_NAME": queue}
    env["HOGFLOWS_LOG_LEVEL"] = "WARNING"
    return subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], cwd=ROOT, env=env)


async def measure(
    url: str, redis_url: str | None, engine: Any, tenant: Tenant, repeats: int
) -> tuple[list[float], list[float], list[float]]:
    queue = f"hogflows-bench:{os.getpid()}"
    app = create_app(
        Settings(DATABASE_URL=url, REDIS_URL=redis_url, HOGFLOWS_QUEUE_NAME=queue, HOGFLOWS_LOG_LEVEL="WARNING")
    )
    worker = None
    if redis_url:
        worker = start_worker(url, redis_url, queue)
    prefix = "worker" if redis_url else "embedded"
    starts: list[float] = []
    wakes: list[float] = []
    converts: list[float] = []
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for index in range(repeats):
                    began = time.perf_counter()
                    await capture(client, tenant, "started", f"{prefix}-start-{index}")
                    await until(engine, f"{prefix}-start-{index}", "completed")
                    starts.append(time.perf_counter() - began)

                    await capture(client, tenant, "added_to_cart", f"{prefix}-wait-{index}")
                    await until(engine, f"{prefix}-wait-{index}", "waiting", "wait")
                    began = time.perf_counter()
                    await capture(client, tenant, "checkout", f"{prefix}-wait-{index}")
                    await until(engine, f"{prefix}-wait-{index}", "completed")
                    wakes.append(time.perf_counter() - began)

                    person = f"{prefix}-convert-{index}"
                    await capture(client, tenant, "signed_up", person, **{"$set": {"plan": "free"}})
                    await until(engine, person, "waiting", "nap")
                    began = time.perf_counter()
                    await capture(client, tenant, "upgraded", person, **{"$set": {"plan": "pro"}})
                    await until(engine, person, "completed")
                    converts.append(time.perf_counter() - began)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
    # The first start includes the worker's own start-up.
    return starts[1:] or starts, wakes, converts


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--database-url", default="postgresql+asyncpg://127.0.0.1:5432/test")
    parser.add_argument("--redis-url", default=None, help="also measure one worker process (flushes nothing)")
    asyncio.run(main(parser.parse_args()))
