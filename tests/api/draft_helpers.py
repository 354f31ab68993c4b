"""Builders shared by the draft, revision and graph tests, and by the run-version worker test."""

from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url, trigger_action, wired


def graph(*actions: dict[str, Any]) -> dict[str, Any]:
    """Actions wired in order to an exit: an active flow accepts no loose ends."""
    wired_actions, edges = wired(list(actions))
    return {"actions": wired_actions, "edges": edges}


def webhook_action(action_id: str = "action_1", url: str = "https://example.com") -> dict[str, Any]:
    return {
        "id": action_id,
        "name": action_id,
        "type": "function",
        "config": {"template_id": "template-webhook", "inputs": {"url": {"value": url}}},
    }


def urls(actions: list[dict[str, Any]]) -> list[str]:
    return [a["config"]["inputs"]["url"]["value"] for a in actions if a["type"] == "function"]


def flow_url(tenant: Tenant, flow_id: str, tail: str = "") -> str:
    return f"{flows_url(tenant)}{flow_id}/{tail}"


async def create_active(client: httpx.AsyncClient, tenant: Tenant, **extra: Any) -> dict[str, Any]:
    body = {"name": "Test Flow", **graph(trigger_action(), webhook_action()), **extra}
    created = await client.post(flows_url(tenant), json=body, headers=auth(tenant))
    assert created.status_code == 201, created.text
    activated = await client.patch(
        flow_url(tenant, created.json()["id"]), json={"status": "active"}, headers=auth(tenant)
    )
    assert activated.status_code == 200, activated.text
    return dict(activated.json())


async def get(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> dict[str, Any]:
    response = await client.get(flow_url(tenant, flow_id), headers=auth(tenant))
    assert response.status_code == 200, response.text
    return dict(response.json())


RUN_FLOW_DELAY = "0.1m"  # six seconds: time to republish while the run waits


def versioned_flow(end: str) -> dict[str, Any]:
    return {
        "name": "versioned",
        "status": "active",
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
            {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": RUN_FLOW_DELAY}},
            {"id": end, "name": end, "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "wait", "type": "continue"},
            {"from": "wait", "to": end, "type": "continue"},
        ],
    }
