"""Test invocations: one step, nothing stored, PostHog's request and response shapes (api.md §6)."""

from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url

EVENT = {
    "uuid": "0191-e",
    "event": "$pageview",
    "distinct_id": "u1",
    "timestamp": "2025-01-01T00:00:00Z",
    "properties": {"$current_url": "https://example.com"},
    "elements_chain": "",
}
FLOW = {
    "name": "test me",
    "actions": [
        {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
        {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": "2h"}},
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
        {"from": "trigger", "to": "wait", "type": "continue"},
        {"from": "wait", "to": "split", "type": "continue"},
        {"from": "split", "to": "done", "type": "branch", "index": 0},
    ],
    "variables": [{"key": "plan", "default": "free"}],
}


async def invoke(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, body: Any) -> httpx.Response:
    return await client.post(f"{flows_url(tenant)}{flow_id}/invocations/", json=body, headers=auth(tenant))


async def test_unsaved_flow_first_step_pauses(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await invoke(client, tenant, "new", {"configuration": FLOW, "globals": {"event": EVENT}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nextActionId"] == "wait"
    assert body["status"] == "success"
    assert body["errors"] == []
    assert body["variables"] == {"plan": "free"}
    messages = [log["message"] for log in body["logs"]]
    assert messages[0] == "Executing action [Action:wait]"
    assert messages[1].startswith("Workflow will pause until ")
    assert {log["level"] for log in body["logs"]} <= {"debug", "info", "warn", "error"}


async def test_saved_flow_with_current_action_and_variable_override(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post(flows_url(tenant), json=FLOW, headers=auth(tenant))
    flow_id = created.json()["id"]
    body = {"globals": {"event": EVENT, "variables": {"plan": "pro"}}, "current_action_id": "split"}
    result = (await invoke(client, tenant, flow_id, body)).json()
    assert result["nextActionId"] == "done"
    assert result["execResult"] == {"assigned_cohort": "done"}
    assert result["variables"] == {"plan": "pro", "picked": "done"}
    runs = (await client.get(f"{flows_url(tenant)}{flow_id}/runs/", headers=auth(tenant))).json()
    assert runs["count"] == 0


async def test_step_error_is_reported(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"configuration": FLOW, "globals": {"event": EVENT}, "current_action_id": "ghost"}
    result = (await invoke(client, tenant, "new", body)).json()
    assert result["status"] == "error"
    assert result["errors"] == ["Action ghost not found"]
    body["current_action_id"] = "done"
    done = (await invoke(client, tenant, "new", body)).json()
    assert done["status"] == "success" and done["nextActionId"] == "done"
    broken = {**FLOW, "edges": []}
    failed = (await invoke(client, tenant, "new", {"configuration": broken, "globals": {"event": EVENT}})).json()
    assert failed["status"] == "error"
    assert failed["errors"] == ["No next action found for action trigger"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"globals": {}}, {"status": "error", "message": "Missing event"}),
        ({}, {"status": "error", "message": "Missing event"}),
        (
            {"globals": {"event": EVENT}, "invocation_id": "nope"},
            {"status": "error", "message": "Invalid invocation ID"},
        ),
        (
            {"configuration": {"name": "x"}, "globals": {"event": EVENT}},
            {"configuration": {"actions": ["This field is required."]}},
        ),
        (
            {
                "configuration": {**FLOW, "actions": [{"id": "t", "type": "trigger", "config": {}}]},
                "globals": {"event": EVENT},
            },
            {"configuration": {"actions": [{"name": ["This field is required."]}]}},
        ),
        (
            {"configuration": {**FLOW, "actions": FLOW["actions"][1:]}, "globals": {"event": EVENT}},
            {"configuration": {"actions": ["Exactly one trigger action is required"]}},
        ),
        ({"globals": "x"}, {"globals": ["Invalid data. Expected a dictionary, but got str."]}),
    ],
)
async def test_bad_requests_get_posthog_raw_errors(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    response = await invoke(client, tenant, "new", body)
    assert response.status_code == 400
    assert response.json() == expected


async def test_body_not_json_object(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.post(
        f"{flows_url(tenant)}new/invocations/",
        content=b"[1]",
        headers={**auth(tenant), "content-type": "application/json"},
    )
    assert response.status_code == 400
