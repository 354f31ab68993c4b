"""`/metrics`, `/_health`, `/_readyz` and request ids on the real app (embedded runner, real database)."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import event_flow
from tests.ops.metrics import sample
from tests.polling import wait_for
from tests.serving import ROOT, base_env


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_health")).json() == {"status": "ok"}
    ready = await client.get("/_readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok"}}


async def test_request_id_is_kept_or_made_and_echoed(client: httpx.AsyncClient) -> None:
    given = await client.get("/_health", headers={"X-Request-ID": "gateway-42.a"})
    assert given.headers["x-request-id"] == "gateway-42.a"
    made = await client.get("/_health")
    assert len(made.headers["x-request-id"]) == 32
    hostile = await client.get("/_health", headers={"X-Request-ID": "a b\nc"})
    assert hostile.headers["x-request-id"] not in ("a b\nc", "")


async def test_metrics_move_when_a_flow_runs(client: httpx.AsyncClient, tenant: Tenant) -> None:
    before = await scrape(client)
    created = await client.post(flows_url(tenant), json=event_flow(["ops_signed_up"]), headers=auth(tenant))
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    events = [
        {"event": "ops_signed_up", "distinct_id": "ops-1", "properties": {}},
        {"event": "ops_other", "distinct_id": "ops-1", "properties": {}},
    ]
    captured = await client.post("/batch/", json={"api_key": tenant.project_token, "batch": events})
    assert captured.status_code == 200, captured.text

    async def completed() -> bool:
        runs = (await client.get(f"{flows_url(tenant)}{flow_id}/runs/", headers=auth(tenant))).json()
        return bool(runs["results"]) and runs["results"][0]["status"] == "completed"

    await wait_for(completed)
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert moved("hogflows_events_received_total") >= 2
    assert moved("hogflows_event_trigger_checks_total", outcome="triggered") >= 1
    assert moved("hogflows_event_trigger_checks_total", outcome="filtered") >= 1
    assert moved("hogflows_runs_created_total", source="event") >= 1
    assert moved("hogflows_pickups_total", outcome="completed") >= 1
    assert moved("hogflows_steps_total", action_type="exit") >= 1
    route = "/api/environments/{team_id}/hog_flows/"
    assert moved("hogflows_http_requests_total", route=route, method="POST", status="201") == 1
    assert moved("hogflows_http_request_duration_seconds_count", route=route, method="POST") == 1
    assert moved("hogflows_http_requests_total", route="/batch/", method="POST", status="200") == 1


async def test_queue_gauges_are_sampled(client: httpx.AsyncClient) -> None:
    async def sampled() -> Any:
        text = await scrape(client)
        return "hogflows_queue_lag_seconds" in text and 'hogflows_runs{status="completed"}' in text

    await wait_for(sampled)


def test_metrics_add_up_across_processes(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, each process writes its values there and any of them serves the sum."""
    env = base_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    bump = "from app.observability import metrics; metrics.runs_created('manual', 2); metrics.queue_sample(7.0, {})"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", bump], cwd=ROOT, env=env, check=True, timeout=60)
    show = "from app.observability import metrics; print(metrics.render()[0].decode())"
    text = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    assert sample(text, "hogflows_runs_created_total", source="manual") == 4
    assert sample(text, "hogflows_queue_lag_seconds") == 7
