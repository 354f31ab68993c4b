"""A `hogflows worker` as an operator sees it: JSON log lines, `/metrics` and `/_health` on its own port."""

import asyncio
from pathlib import Path

import httpx

from app.services.bootstrap import Tenant
from tests.ops.metrics import sample
from tests.polling import wait_for
from tests.serving import free_port, started
from tests.worker.helpers import create_flow, start_run, wait_for_status

SHORT_DELAY = {
    "name": "short delay",
    "status": "active",
    "actions": [
        {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
        {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": "0.001m"}},
        {"id": "done", "name": "done", "type": "exit", "config": {}},
    ],
    "edges": [
        {"from": "trigger", "to": "wait", "type": "continue"},
        {"from": "wait", "to": "done", "type": "continue"},
    ],
}


async def test_worker_logs_json_and_serves_metrics(
    queue_client: httpx.AsyncClient, tenant: Tenant, worker_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = {**worker_env, "HOGFLOWS_LOG_JSON": "true", "HOGFLOWS_LOG_LEVEL": "INFO"}
    args = ["worker", "--metrics-port", str(port), "--metrics-host", "127.0.0.1"]
    with started(args, env, tmp_path / "worker.log") as worker:
        await asyncio.to_thread(worker.wait_for_line, lambda line: line["event"] == "worker started")
        scrape = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
        assert (await scrape.get("/_health")).json() == {"status": "ok"}
        flow_id = await create_flow(queue_client, tenant, SHORT_DELAY)
        run_id = await start_run(queue_client, tenant, flow_id)
        await wait_for_status(queue_client, tenant, flow_id, run_id, "completed", within=60)

        async def counted() -> bool:
            # A pickup is counted once its transaction commits, so the scrape may lag the run's status a moment.
            scraped = await scrape.get("/metrics")
            assert scraped.status_code == 200
            return (
                sample(scraped.text, "hogflows_pickups_total", outcome="completed") >= 1
                and sample(scraped.text, "hogflows_steps_total", action_type="delay", outcome="waiting") >= 1
                and sample(scraped.text, "hogflows_steps_total", action_type="exit") >= 1
            )

        await wait_for(counted, within=30)
        assert (await scrape.get("/nothing")).status_code == 404
        await scrape.aclose()
    lines = worker.json_lines()  # every line is JSON, whichever library wrote it
    assert all({"event", "level", "timestamp", "logger"} <= set(line) for line in lines)
    assert any(line["event"] == "worker shutting down" for line in lines)
    pickups = [line for line in lines if "run_id" in line and "outcome" in line]
    if pickups:  # the one-line-per-pickup log names the run
        assert any(line["run_id"] == run_id for line in pickups), worker.log_text()
    assert all("exception" not in line for line in lines), worker.log_text()
