"""Builders shared by the batch job, schedule and audience tests."""

from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url


def person_filter(key: str, value: Any, operator: str | None = None) -> dict[str, Any]:
    prop: dict[str, Any] = {"key": key, "value": value, "type": "person"}
    if operator:
        prop["operator"] = operator
    return prop


def batch_flow(properties: list[Any] | None = None, *, status: str = "active", **extra: Any) -> dict[str, Any]:
    """A batch flow: trigger (audience = `properties`), then exit."""
    filters = {"properties": properties if properties is not None else [person_filter("plan", "pro")]}
    return {
        "name": "to everyone",
        "status": status,
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "batch", "filters": filters}},
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
        **extra,
    }


def schedule_flow(status: str = "active") -> dict[str, Any]:
    return {
        "name": "every day",
        "status": status,
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "trigger", "to": "done", "type": "continue"}],
    }


async def create_flow(client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any]) -> str:
    response = await client.post(flows_url(tenant), json=payload, headers=auth(tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def persons_url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team_id}/persons/"


async def upsert_persons(client: httpx.AsyncClient, tenant: Tenant, persons: list[dict[str, Any]]) -> None:
    response = await client.post(persons_url(tenant), json={"persons": persons}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    assert response.json() == {"upserted": len({p["distinct_id"] for p in persons})}


def batch_jobs_url(tenant: Tenant, flow_id: str) -> str:
    return f"{flows_url(tenant)}{flow_id}/batch_jobs/"


def schedules_url(tenant: Tenant, flow_id: str) -> str:
    return f"{flows_url(tenant)}{flow_id}/schedules/"
