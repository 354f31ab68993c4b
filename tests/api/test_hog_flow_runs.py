"""Manual runs through the API, executed by the embedded runner (no Redis), and their trace."""

from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.conftest import TenantFactory
from tests.polling import wait_for

FLOW = {
    "name": "manual",
    "status": "active",
    "actions": [
        {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
        {
            "id": "split",
            "name": "split",
            "type": "random_cohort_branch",
            "config": {"cohorts": [{"percentage": 100}]},
            "output_variable": {"key": "picked", "result_path": "assigned_cohort"},
        },
        {"id": "done", "name": "done", "type": "exit", "config": {}},
    ],
    "edges": [
        {"from": "trigger", "to": "split", "type": "continue"},
        {"from": "split", "to": "done", "type": "branch", "index": 0},
    ],
    "variables": [{"key": "plan", "default": "free"}, {"key": "empty", "default": ""}],
}


async def create_flow(client: httpx.AsyncClient, tenant: Tenant, **overrides: Any) -> str:
    response = await client.post(flows_url(tenant), json={**FLOW, **overrides}, headers=auth(tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_manual_run_completes_in_the_embedded_runner(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant)
    runs_url = f"{flows_url(tenant)}{flow_id}/runs/"
    started = await client.post(
        runs_url, json={"distinct_id": "ada", "variables": {"plan": "pro"}}, headers=auth(tenant)
    )
    assert started.status_code == 201, started.text
    run = started.json()
    assert run["status"] == "queued"
    assert run["distinct_id"] == "ada"
    assert run["hog_flow"] == flow_id

    async def completed() -> dict[str, Any] | None:
        detail = (await client.get(f"{runs_url}{run['id']}/", headers=auth(tenant))).json()
        return detail if detail["status"] == "completed" else None

    detail = await wait_for(completed, within=20)
    assert detail["variables"] == {"plan": "pro", "empty": None, "picked": "done"}
    assert [(s["seq"], s["action_id"], s["outcome"], s["next_action_id"]) for s in detail["steps"]] == [
        (1, "split", "succeeded", "done"),
        (2, "done", "finished", None),
    ]
    assert detail["current_action_id"] == "done"
    listed = (await client.get(runs_url, params={"status": "completed"}, headers=auth(tenant))).json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({}, "distinct_id"),
        ({"distinct_id": ""}, "distinct_id"),
        ({"person_id": "00000000-0000-0000-0000-000000000000"}, "person_id"),
        ({"person_id": "nope"}, "person_id"),
        ({"distinct_id": "a", "variables": []}, "variables"),
    ],
)
async def test_bad_run_requests(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], attr: str) -> None:
    flow_id = await create_flow(client, tenant)
    response = await client.post(f"{flows_url(tenant)}{flow_id}/runs/", json=body, headers=auth(tenant))
    assert response.status_code == 400
    assert response.json()["attr"] == attr
    listed = (await client.get(f"{flows_url(tenant)}{flow_id}/runs/", headers=auth(tenant))).json()
    assert listed["count"] == 0


async def test_draft_flow_cannot_run(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, status="draft")
    response = await client.post(f"{flows_url(tenant)}{flow_id}/runs/", json={"distinct_id": "a"}, headers=auth(tenant))
    assert response.status_code == 400
    assert response.json()["detail"] == "Workflow must be active to start a run. Enable it first."


async def test_runs_are_scoped(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    owner = await make_tenant()
    other = await make_tenant()
    reader = await make_tenant(scopes=["hog_flow:read"])
    flow_id = await create_flow(client, owner)
    run = (
        await client.post(f"{flows_url(owner)}{flow_id}/runs/", json={"distinct_id": "a"}, headers=auth(owner))
    ).json()
    assert (await client.get(f"{flows_url(other)}{flow_id}/runs/", headers=auth(other))).status_code == 404
    assert (await client.get(f"{flows_url(owner)}{flow_id}/runs/{run['id']}/", headers=auth(other))).status_code == 403
    assert (await client.get(f"{flows_url(owner)}{flow_id}/runs/bogus/", headers=auth(owner))).status_code == 404
    response = await client.post(f"{flows_url(reader)}{flow_id}/runs/", json={"distinct_id": "a"}, headers=auth(reader))
    assert response.status_code == 403


async def test_a_run_writes_posthog_logs_and_metrics(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant)
    run = (
        await client.post(f"{flows_url(tenant)}{flow_id}/runs/", json={"distinct_id": "ada"}, headers=auth(tenant))
    ).json()

    async def logged() -> list[dict[str, Any]] | None:
        logs = (
            await client.get(
                f"{flows_url(tenant)}{flow_id}/logs/", params={"instance_id": run["id"]}, headers=auth(tenant)
            )
        ).json()["results"]
        return logs if any(log["message"] == "Workflow completed" for log in logs) else None

    logs = await wait_for(logged, within=20)
    messages = [log["message"] for log in reversed(logs)]
    assert messages[0].startswith("Starting workflow execution at trigger at request of [Actor:ada] on [Event:")
    assert "|$workflow_triggered|" in messages[0]
    assert messages[1:] == [
        "Executing action [Action:split]",
        'Stored action result in variable(s): picked = "done"',
        "Workflow moved to action [Action:done]",
        "Executing action [Action:done]",
        "Workflow completed",
    ]
    assert {log["level"] for log in logs} == {"INFO", "DEBUG"}
    assert len({log["timestamp"] for log in logs}) == len(logs)
    totals = (
        await client.get(
            f"{flows_url(tenant)}{flow_id}/metrics/totals/", params={"breakdown_by": "name"}, headers=auth(tenant)
        )
    ).json()
    assert totals == {"totals": {"succeeded": 3}}
