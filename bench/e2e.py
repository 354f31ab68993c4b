"""End to end: event → `/capture/` → worker → webhook to a local sink, against a bare arq floor.

    .venv/bin/python bench/e2e.py [--events 2000] [--sequential 20] [--repeats 3] [--concurrency 20]
                                  [--database-url postgresql://127.0.0.1/test] [--redis-url redis://127.0.0.1:6379/7]

Two systems, each one API process and one worker process, on the same PostgreSQL server (a fresh
database each), Redis (a queue each) and sink:
- hogflows: `hogflows serve` + `hogflows worker`; an active flow triggered by the event, whose webhook
  step posts the event's key to the sink, then exits.
- floor: what the same job costs on the bare stack, written here: a FastAPI `/capture/` doing one INSERT
  and one arq enqueue; an arq job doing one UPDATE and one httpx POST to the sink. Same arq concurrency.
The sink (its own process) records when each key arrives.

Per repeat, both systems (order alternating) take a burst of `--events` events sent `--concurrency` at a
time — throughput is events delivered per second from the first send to the last arrival, latency each
event's send-to-arrival — then `--sequential` events one at a time (latency each). The worker's peak RSS
is sampled during the burst, and the CPU time the API and the worker spent per event of the burst (less
sensitive to a busy machine than rates). Prints medians of the repeats, hogflows/floor ratios of those
medians and the median of the ratios within each repeat ("same-run", steadier when the load moves).
"""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLOOR_TABLE = (
    "CREATE TABLE IF NOT EXISTS floor_events (id bigserial PRIMARY KEY, key text, body jsonb, sent_at timestamptz)"
)


# --- the sink -----------------------------------------------------------------------------------------

ARRIVALS: dict[str, float] = {}


async def sink_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app: POST records `{"key"}`'s arrival time; GET /arrivals?prefix= returns them."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["method"] == "POST":
        now = time.time()
        with contextlib.suppress(ValueError, KeyError, TypeError):
            ARRIVALS.setdefault(str(json.loads(body)["key"]), now)
        payload = b'{"ok":true}'
    else:
        prefix = scope["query_string"].decode().removeprefix("prefix=")
        payload = json.dumps({k: t for k, t in ARRIVALS.items() if k.startswith(prefix)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


# --- the floor: bare FastAPI + asyncpg + arq ----------------------------------------------------------


def floor_api() -> Any:
    import asyncpg
    from arq import create_pool
    from arq.connections import RedisSettings
    from fastapi import FastAPI, Request

    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["db"] = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=2, max_size=10)
        state["arq"] = await create_pool(RedisSettings.from_dsn(os.environ["REDIS_URL"]))
        yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/capture/")
    async def capture(request: Request) -> dict[str, int]:
        event = await request.json()
        key = event["properties"]["key"]
        row_id = await state["db"].fetchval(
            "INSERT INTO floor_events (key, body) VALUES ($1, $2) RETURNING id", key, json.dumps(event)
        )
        await state["arq"].enqueue_job("deliver", row_id, key, _queue_name=os.environ["QUEUE"])
        return {"status": 1}

    return app


async def deliver(ctx: dict[str, Any], row_id: int, key: str) -> None:
    await ctx["db"].execute("UPDATE floor_events SET sent_at = now() WHERE id = $1", row_id)
    await ctx["http"].post(os.environ["SINK_URL"], json={"key": key})


async def floor_startup(ctx: dict[str, Any]) -> None:
    import asyncpg

    ctx["db"] = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=2, max_size=10)
    ctx["http"] = httpx.AsyncClient()


def floor_worker() -> None:
    from arq.connections import RedisSettings
    from arq.worker import Worker

    Worker(
        functions=[deliver],
        on_startup=floor_startup,
        redis_settings=RedisSettings.from_dsn(os.environ["REDIS_URL"]),
        queue_name=os.environ["QUEUE"],
        max_jobs=int(os.environ.get("HOGFLOWS_WORKER_CONCURRENCY", "20")),
        keep_result=0,
        poll_delay=0.2,
    ).run()


# --- the bench ----------------------------------------------------------------------------------------


def webhook_flow(sink_url: str) -> dict[str, Any]:
    inputs = {"url": {"value": sink_url}, "body": {"value": {"key": "{event.properties.key}"}}}
    trigger = {"type": "event", "filters": {"events": [{"id": "bench", "type": "events"}]}}
    return {
        "name": "e2e",
        "status": "active",
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": trigger},
            {
                "id": "hook",
                "name": "hook",
                "type": "function",
                "config": {"template_id": "template-webhook", "inputs": inputs},
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "hook", "type": "continue"},
            {"from": "hook", "to": "done", "type": "continue"},
        ],
    }


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own: `stop` ends the process group, helper processes (the Hog parse pool) included.
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
        start_new_session=True,
    )


async def wait_up(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} never came up")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class System:
    def __init__(
        self, name: str, capture_url: str, token: str, api: subprocess.Popen[bytes], worker: subprocess.Popen[bytes]
    ) -> None:
        self.name, self.capture_url, self.token, self.api, self.worker = name, capture_url, token, api, worker

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.api.pid), cpu_seconds(self.worker.pid)

    def event(self, key: str) -> dict[str, Any]:
        return {"api_key": self.token, "event": "bench", "distinct_id": f"user-{key}", "properties": {"key": key}}


async def arrivals(client: httpx.AsyncClient, sink: str, prefix: str) -> dict[str, float]:
    return dict((await client.get(f"{sink}/arrivals", params={"prefix": prefix})).json())


async def burst(system: System, sink: str, events: int, concurrency: int, within: float) -> dict[str, float]:
    prefix = f"{system.name}-{uuid.uuid4().hex[:8]}-"
    sent: dict[str, float] = {}
    peak = rss_mb(system.worker.pid)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for n in range(events):
            queue.put_nowait(f"{prefix}{n}")

        async def sender() -> None:
            while not queue.empty():
                key = queue.get_nowait()
                sent[key] = time.time()
                response = await client.post(system.capture_url, json=system.event(key))
                response.raise_for_status()

        started = time.time()
        cpu_before = system.cpu()
        accepted_at: list[float] = []
        senders = asyncio.gather(*(sender() for _ in range(concurrency)))
        senders.add_done_callback(lambda _: accepted_at.append(time.time()))
        deadline = time.monotonic() + within
        while True:
            await asyncio.sleep(0.25)
            peak = max(peak, rss_mb(system.worker.pid))
            got = await arrivals(client, sink, prefix)
            if len(got) >= events:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{system.name}: {len(got)}/{events} arrived within {within}s")
        await senders
        cpu_after = system.cpu()
    latencies = sorted(got[key] - sent[key] for key in got)
    return {
        "throughput": events / (max(got.values()) - started),
        # How fast the API took the events in: when this is close to `throughput`, capture is the bottleneck.
        "capture": events / ((accepted_at[0] if accepted_at else time.time()) - started),
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "rss": peak,
        # CPU per event (ms), less sensitive to a busy machine than rates and latencies.
        "api_cpu": (cpu_after[0] - cpu_before[0]) * 1000 / events,
        "worker_cpu": (cpu_after[1] - cpu_before[1]) * 1000 / events,
    }


async def sequential(system: System, sink: str, count: int) -> float:
    prefix = f"{system.name}-seq-{uuid.uuid4().hex[:8]}-"
    latencies = []
    async with httpx.AsyncClient(timeout=60) as client:
        for n in range(count):
            key = f"{prefix}{n}"
            sent = time.time()
            (await client.post(system.capture_url, json=system.event(key))).raise_for_status()
            while key not in (got := await arrivals(client, sink, key)):  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.005)
            latencies.append(got[key] - sent)
    return statistics.median(latencies)


async def start_hogflows(database_url: str, redis_url: str, sink: str, procs: list[Any]) -> System:
    from app.crypto import DEFAULT_SECRET_KEY, SecretBox
    from app.db.migrate import upgrade_to_head
    from app.db.models import Team, User
    from app.db.session import create_engine, create_sessionmaker, session_scope
    from app.schemas.hog_flow import HogFlowCreate
    from app.services.bootstrap import bootstrap_tenant
    from app.services.hog_flows import create_flow

    # The bench's flow holds no secret inputs: any key seals nothing.
    box = SecretBox([DEFAULT_SECRET_KEY])
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    async with session_scope(create_sessionmaker(engine)) as session:
        tenant = await bootstrap_tenant(session)
        team, user = await session.get(Team, tenant.team_id), await session.get(User, tenant.user_id)
        assert team is not None and user is not None
        await create_flow(session, team, user, HogFlowCreate.model_validate(webhook_flow(f"{sink}/hook")), box)
    await engine.dispose()
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HOGFLOWS_QUEUE_NAME": f"bench-e2e:{uuid.uuid4().hex[:8]}",
        "HOGFLOWS_ALLOW_PRIVATE_FETCH": "true",
        "HOGFLOWS_TRIGGER_RATE_LIMIT_BUCKET": "10000000",
        "HOGFLOWS_LOG_LEVEL": "WARNING",
    }
    api = spawn([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], env)
    worker = spawn([sys.executable, "-m", "app.cli", "worker"], env)
    procs += [api, worker]
    await wait_up(f"http://127.0.0.1:{port}/")
    return System("hogflows", f"http://127.0.0.1:{port}/capture/", tenant.project_token, api, worker)


async def start_floor(database_url: str, redis_url: str, sink: str, procs: list[Any]) -> System:
    import asyncpg

    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    await connection.execute(FLOOR_TABLE)
    await connection.close()
    port = free_port()
    env = {"FLOOR_DSN": dsn, "REDIS_URL": redis_url, "QUEUE": f"bench-floor:{uuid.uuid4().hex[:8]}"}
    env["SINK_URL"] = f"{sink}/hook"
    api = spawn([sys.executable, str(Path(__file__)), "--role", "floor-api", "--port", str(port)], env)
    worker = spawn([sys.executable, str(Path(__file__)), "--role", "floor-worker"], env)
    procs += [api, worker]
    await wait_up(f"http://127.0.0.1:{port}/docs")
    return System("floor", f"http://127.0.0.1:{port}/capture/", "floor", api, worker)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for process in procs:
        if process.poll() is None:
            process.terminate()
    for process in procs:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # what the process left behind


async def main(args: argparse.Namespace) -> None:
    from app.db.scratch import scratch_database

    procs: list[subprocess.Popen[bytes]] = []
    sink_port = free_port()
    sink = f"http://127.0.0.1:{sink_port}"
    procs.append(spawn([sys.executable, str(Path(__file__)), "--role", "sink", "--port", str(sink_port)], {}))
    results: dict[str, list[dict[str, float]]] = {"hogflows": [], "floor": []}
    try:
        await wait_up(f"{sink}/arrivals")
        async with (
            scratch_database(args.database_url, "bench_e2e") as hog_url,
            scratch_database(args.database_url, "bench_floor") as floor_url,
        ):
            try:
                systems = [
                    await start_hogflows(hog_url, args.redis_url, sink, procs),
                    await start_floor(floor_url, args.redis_url, sink, procs),
                ]
                for system in systems:  # warm-up: connections, caches, compiled flows
                    await burst(system, sink, 50, args.concurrency, args.timeout)
                for repeat in range(args.repeats):
                    for system in systems if repeat % 2 == 0 else reversed(systems):
                        figures = await burst(system, sink, args.events, args.concurrency, args.timeout)
                        figures["seq_p50"] = await sequential(system, sink, args.sequential)
                        results[system.name].append(figures)
                        shown = ", ".join(f"{k} {v:.3f}" for k, v in figures.items())
                        print(f"  repeat {repeat + 1} {system.name}: {shown}", flush=True)
            finally:
                stop(procs[1:])  # before their databases go
    finally:
        stop(procs)
    med = {name: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for name, runs in results.items()}
    hog, floor = med["hogflows"], med["floor"]
    # The machine's load moves between repeats: the ratio within each repeat is the fairer figure.
    paired = list(zip(results["hogflows"], results["floor"], strict=True))
    same_run = {k: statistics.median(h[k] / f[k] for h, f in paired) for k in hog}
    print(f"\n{args.events} events burst, {args.sequential} sequential, medians of {args.repeats} (interleaved)")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'':22}{'hogflows':>12}{'floor':>12}{'ratio':>9}{'same-run':>10}")
    rows = [
        ("burst events/s", "throughput", "{:.1f}"),
        ("  of which captured/s", "capture", "{:.1f}"),
        ("burst p50 latency s", "p50", "{:.2f}"),
        ("burst p99 latency s", "p99", "{:.2f}"),
        ("sequential p50 s", "seq_p50", "{:.3f}"),
        ("worker peak RSS MB", "rss", "{:.0f}"),
        ("API CPU ms/event", "api_cpu", "{:.2f}"),
        ("worker CPU ms/event", "worker_cpu", "{:.2f}"),
    ]
    for label, key, fmt in rows:
        ratio = hog[key] / floor[key]
        print(f"{label:22}{fmt.format(hog[key]):>12}{fmt.format(floor[key]):>12}{ratio:>8.2f}x{same_run[key]:>9.2f}x")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["bench", "sink", "floor-api", "floor-worker"], default="bench")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--database-url", default="postgresql+asyncpg://127.0.0.1:5432/test")
    default_redis = f"redis://127.0.0.1:6379/{os.environ.get('HOGFLOWS_TEST_REDIS_DB', '15')}"
    parser.add_argument("--redis-url", default=default_redis)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    if arguments.role == "sink":
        import uvicorn as server

        server.run(sink_app, port=arguments.port, log_level="warning", access_log=False)
    elif arguments.role == "floor-api":
        import uvicorn as server

        server.run(floor_api(), port=arguments.port, log_level="warning", access_log=False)
    elif arguments.role == "floor-worker":
        floor_worker()
    else:
        asyncio.run(main(arguments))
