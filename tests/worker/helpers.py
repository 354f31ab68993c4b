"""Flows and runs through the production-like API, for the tests that run real worker processes."""

from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.polling import wait_for


async def create_flow(client: httpx.AsyncClient, tenant: Tenant, flow: dict[str, Any]) -> str:
    response = await client.post(flows_url(tenant), json=flow, headers=auth(tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def start_run(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, distinct_id: str = "user-1") -> str:
    response = await client.post(
        f"{flows_url(tenant)}{flow_id}/runs/", json={"distinct_id": distinct_id}, headers=auth(tenant)
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["id"])


async def get_run(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, run_id: str) -> dict[str, Any]:
    response = await client.get(f"{flows_url(tenant)}{flow_id}/runs/{run_id}/", headers=auth(tenant))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_for_status(
    client: httpx.AsyncClient, tenant: Tenant, flow_id: str, run_id: str, status: str, within: float = 30
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        run = await get_run(client, tenant, flow_id, run_id)
        assert run["status"] not in {"failed", "cancelled"} - {status}, run
        return run if run["status"] == status else None

    return dict(await wait_for(check, within=within))


def trace(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(step["action_id"], step["outcome"]) for step in run["steps"]]


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
