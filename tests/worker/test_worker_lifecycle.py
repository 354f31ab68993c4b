"""A worker's life around a slow webhook: heartbeat, kill -9 recovery time, SIGTERM drain and hand-over.

Real `hogflows worker` processes on a database and queue of their own, calling a local HTTP server that
answers slowly. Every case also checks the destination got exactly one request (at most once).
"""

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select

from app.db.models import HogFlowRun
from app.db.session import create_engine
from app.services.bootstrap import Tenant
from tests.functions.servers import LocalHttpServer, Reply
from tests.polling import wait_for
from tests.serving import Workers
from tests.worker.conftest import MODULE_GRACE, MODULE_LEASE, SHORT_LEASES, module_owned
from tests.worker.helpers import create_flow, get_run, start_run, trace, wait_for_status, webhook_flow

client, tenant, workers = module_owned(SHORT_LEASES)


async def request_arrived(server: LocalHttpServer, count: int = 1, within: float = 60) -> None:
    async def arrived() -> bool:
        return len(server.requests) >= count

    await wait_for(arrived, within=within, interval=0.05)


async def wait_exit(process: subprocess.Popen[bytes], within: float) -> int:
    async def exited() -> bool:
        return process.poll() is not None

    await wait_for(exited, within=within, interval=0.05)
    return process.returncode


async def test_the_heartbeat_keeps_a_slow_pickup_to_its_worker(
    client: httpx.AsyncClient, tenant: Tenant, workers: Workers, http_server: LocalHttpServer
) -> None:
    # The request outlasts two leases while another worker sweeps every second: only the heartbeat
    # keeps the run from being taken over (which would fail it as an interrupted send).
    http_server.script("/slow", Reply(200, {"ok": True}, delay=2.5 * MODULE_LEASE))
    flow_id = await create_flow(client, tenant, webhook_flow(http_server.url("/slow")))
    workers.start()
    workers.start()
    run_id = await start_run(client, tenant, flow_id)
    run = await wait_for_status(client, tenant, flow_id, run_id, "completed")
    assert trace(run) == [("hook", "succeeded"), ("done", "finished")]
    assert len(http_server.requests) == 1


async def test_a_killed_workers_run_resumes_within_grace_plus_lease_without_sending_again(
    client: httpx.AsyncClient,
    tenant: Tenant,
    workers: Workers,
    module_database_url: str,
    http_server: LocalHttpServer,
    tmp_path: Path,
) -> None:
    http_server.script("/slow", Reply(200, {"ok": True}, delay=120))
    flow_id = await create_flow(client, tenant, webhook_flow(http_server.url("/slow")))
    # Two workers, both up before the run starts: recovery time is not worker start-up time.
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [workers.start(output=log) for log in logs]
    owners = [await started_owner(log) for log in logs]
    run_id = await start_run(client, tenant, flow_id)
    await request_arrived(http_server)
    holder = processes[owners.index(await lease_owner(module_database_url, run_id))]
    workers.kill(holder)
    killed_at = time.monotonic()

    async def finished() -> dict[str, object] | None:
        run = await get_run(client, tenant, flow_id, run_id)
        return run if run["status"] in ("completed", "failed") else None

    run = await wait_for(finished, within=60, interval=0.1)
    recovery = time.monotonic() - killed_at
    # The send may have left: the new pickup must not repeat it, so the step fails as interrupted.
    assert run["status"] == "failed"
    assert len(http_server.requests) == 1
    assert recovery < MODULE_GRACE + MODULE_LEASE, f"recovered in {recovery:.1f}s"


async def started_owner(log: Path) -> str:
    async def owner() -> str | None:
        started = [entry for entry in _json_lines(log) if entry.get("event") == "worker started"]
        return str(started[0]["owner"]) if started else None

    return str(await wait_for(owner, within=60, interval=0.1))


async def lease_owner(database_url: str, run_id: str) -> str:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            statement = select(HogFlowRun.lease_owner).where(HogFlowRun.id == uuid.UUID(run_id))
            return str((await connection.execute(statement)).scalar_one())
    finally:
        await engine.dispose()


async def test_sigterm_lets_a_pickup_in_flight_finish(
    client: httpx.AsyncClient,
    tenant: Tenant,
    workers: Workers,
    http_server: LocalHttpServer,
    tmp_path: Path,
) -> None:
    http_server.script("/slow", Reply(200, {"ok": True}, delay=1.5))
    flow_id = await create_flow(client, tenant, webhook_flow(http_server.url("/slow")))
    log = tmp_path / "worker.log"
    worker = workers.start(output=log, HOGFLOWS_SHUTDOWN_GRACE="30")
    run_id = await start_run(client, tenant, flow_id)
    await request_arrived(http_server)
    worker.send_signal(signal.SIGTERM)
    assert await wait_exit(worker, within=30) == 0

    run = await get_run(client, tenant, flow_id, run_id)
    assert run["status"] == "completed"
    assert trace(run) == [("hook", "succeeded"), ("done", "finished")]
    assert len(http_server.requests) == 1
    pickups = [entry for entry in _json_lines(log) if entry.get("event") == "app.worker.pickup"]
    assert [(entry["run_id"], entry["flow_id"], entry["team_id"], entry["outcome"]) for entry in pickups] == [
        (run_id, flow_id, tenant.team_id, "completed")
    ]
    assert float(str(pickups[0]["duration_ms"])) >= 1500


async def test_sigterm_past_the_grace_hands_the_run_over_at_once(
    client: httpx.AsyncClient, tenant: Tenant, workers: Workers, http_server: LocalHttpServer
) -> None:
    http_server.script("/slow", Reply(200, {"ok": True}, delay=120))
    flow_id = await create_flow(client, tenant, webhook_flow(http_server.url("/slow")))
    # A long lease: only the release on shutdown can free the run this soon.
    worker = workers.start(HOGFLOWS_SHUTDOWN_GRACE="0.5", HOGFLOWS_RUN_LEASE_SECONDS="300")
    run_id = await start_run(client, tenant, flow_id)
    await request_arrived(http_server)
    workers.start()
    worker.send_signal(signal.SIGTERM)
    assert await wait_exit(worker, within=30) == 0
    stopped_at = time.monotonic()

    async def finished() -> dict[str, object] | None:
        run = await get_run(client, tenant, flow_id, run_id)
        return run if run["status"] in ("completed", "failed") else None

    run = await wait_for(finished, within=30, interval=0.1)
    assert time.monotonic() - stopped_at < 10
    assert run["status"] == "failed"  # interrupted send: not repeated
    assert len(http_server.requests) == 1


def _json_lines(path: Path) -> list[dict[str, object]]:
    entries = []
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries
