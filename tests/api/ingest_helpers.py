"""Builders for event- and webhook-triggered flows, and readers for what ingestion left behind."""

from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url


def event_flow(
    events: list[str] | None = None,
    properties: list[dict[str, Any]] | None = None,
    *,
    status: str = "active",
    masking: dict[str, Any] | None = None,
    variables: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    filters: dict[str, Any] = {"events": [{"id": name, "type": "events"} for name in events or ["signed_up"]]}
    if properties:
        filters["properties"] = properties
    flow: dict[str, Any] = {
        "name": "event flow",
        "status": status,
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "event", "filters": filters}},
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
    }
    if masking is not None:
        flow["trigger_masking"] = masking
    if variables is not None:
        flow["variables"] = variables
    return flow


def webhook_flow(
    inputs: dict[str, Any] | None = None, *, status: str = "active", kind: str = "webhook"
) -> dict[str, Any]:
    template = "template-source-webhook-pixel" if kind == "tracking_pixel" else "template-source-webhook"
    return {
        "name": f"{kind} flow",
        "status": status,
        "actions": [
            {
                "id": "trigger",
                "name": "trigger",
                "type": "trigger",
                "config": {"type": kind, "template_id": template, "inputs": inputs or {}},
            },
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
        "variables": [{"key": "plan", "default": "free"}],
    }


async def create_flow(client: httpx.AsyncClient, tenant: Tenant, flow: dict[str, Any]) -> str:
    response = await client.post(flows_url(tenant), json=flow, headers=auth(tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def set_status(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, status: str) -> None:
    response = await client.patch(f"{flows_url(tenant)}{flow_id}/", json={"status": status}, headers=auth(tenant))
    assert response.status_code == 200, response.text


# What the trigger pipeline counts (runs executing afterwards add `succeeded` and friends).
TRIGGER_METRICS = frozenset(
    {"triggered", "filtered", "filtering_failed", "masked", "rate_limited", "trigger_failed", "billable_invocation"}
)


async def metric_totals(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> dict[str, int]:
    """Totals of the trigger pipeline's metrics, by name."""
    response = await client.get(
        f"{flows_url(tenant)}{flow_id}/metrics/totals/", params={"breakdown_by": "name"}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    return {name: count for name, count in response.json()["totals"].items() if name in TRIGGER_METRICS}


async def metric_kinds(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> dict[str, int]:
    response = await client.get(
        f"{flows_url(tenant)}{flow_id}/metrics/totals/", params={"breakdown_by": "kind"}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["totals"])


async def logs(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(
        f"{flows_url(tenant)}{flow_id}/logs/", params={"limit": 500, **params}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


async def runs(client: httpx.AsyncClient, tenant: Tenant, flow_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{flows_url(tenant)}{flow_id}/runs/", params={"limit": 500}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    return list(response.json()["results"])
