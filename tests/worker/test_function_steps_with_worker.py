"""Function steps in real `hogflows worker` processes: a webhook step calls a local server."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.functions.servers import LocalHttpServer, Reply
from tests.worker.conftest import Workers
from tests.worker.test_runs_with_worker import create_flow, start_run, trace, wait_for_status


@pytest.fixture
def http_server() -> Iterator[LocalHttpServer]:
    server = LocalHttpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fetch_workers(worker_env: dict[str, str]) -> Iterator[Workers]:
    """Workers that may call 127.0.0.1 and retry after ~0.2 s instead of ~1 s."""
    pool = Workers({**worker_env, "HOGFLOWS_ALLOW_PRIVATE_FETCH": "true", "HOGFLOWS_FETCH_RETRY_BASE": "0.2"})
    yield pool
    pool.stop_all()


def webhook_flow(url: str) -> dict[str, Any]:
    inputs = {
        "url": {"value": url},
        "body": {"value": {"user": "{event.distinct_id}", "plan": "{variables.plan}"}},
        "headers": {"value": {"Content-Type": "application/json", "X-Run": "{event.event}"}},
    }
    return {
        "name": "webhook",
        "status": "active",
        "variables": [{"key": "plan", "default": "pro"}],
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
            {
                "id": "hook",
                "name": "hook",
                "type": "function",
                "config": {"template_id": "template-webhook", "inputs": inputs},
                "output_variable": {"key": "response_status", "result_path": "status"},
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "hook", "type": "continue"},
            {"from": "hook", "to": "done", "type": "continue"},
        ],
    }


async def run_logs(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, run_id: str) -> list[str]:
    response = await client.get(
        f"{flows_url(tenant)}{flow_id}/logs/", params={"instance_id": run_id, "limit": 500}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    return [entry["message"] for entry in reversed(response.json()["results"])]


async def test_a_webhook_step_calls_the_server_from_a_worker(
    queue_client: httpx.AsyncClient, tenant: Tenant, fetch_workers: Workers, http_server: LocalHttpServer
) -> None:
    http_server.script("/hook", Reply(200, {"ok": True}))
    flow_id = await create_flow(queue_client, tenant, webhook_flow(http_server.url("/hook")))
    fetch_workers.start()
    run_id = await start_run(queue_client, tenant, flow_id, distinct_id="ada")

    run = await wait_for_status(queue_client, tenant, flow_id, run_id, "completed")
    assert trace(run) == [("hook", "succeeded"), ("done", "finished")]
    assert run["variables"] == {"plan": "pro", "response_status": 200}
    [request] = http_server.requests
    assert request.json() == {"user": "ada", "plan": "pro"}
    assert request.headers["x-run"] == "$workflow_triggered"
    logs = await run_logs(queue_client, tenant, flow_id, run_id)
    assert any(line.startswith("[Action:hook] Function completed in ") for line in logs)


async def test_a_failing_server_is_retried_with_backoff_by_the_worker(
    queue_client: httpx.AsyncClient, tenant: Tenant, fetch_workers: Workers, http_server: LocalHttpServer
) -> None:
    http_server.script("/hook", Reply(503, "busy"), Reply(200, {"ok": True}))
    flow_id = await create_flow(queue_client, tenant, webhook_flow(http_server.url("/hook")))
    fetch_workers.start()
    run_id = await start_run(queue_client, tenant, flow_id)

    run = await wait_for_status(queue_client, tenant, flow_id, run_id, "completed")
    assert trace(run) == [("hook", "waiting"), ("hook", "succeeded"), ("done", "finished")]
    assert len(http_server.requests) == 2
    logs = await run_logs(queue_client, tenant, flow_id, run_id)
    assert "[Action:hook] HTTP fetch failed on attempt 1 with status code 503. Retrying." in logs
    assert any(line.startswith("Workflow will pause until ") for line in logs)
