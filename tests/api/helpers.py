"""Small builders for flow payloads and authenticated requests."""

import itertools
from typing import Any

import httpx

from app.services.bootstrap import Tenant


def auth(tenant: Tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.api_key}"}


def flows_url(tenant: Tenant, prefix: str = "environments") -> str:
    return f"/api/{prefix}/{tenant.team_id}/hog_flows/"


def trigger_action(config: dict[str, Any] | None = None, action_id: str = "trigger_node") -> dict[str, Any]:
    return {
        "id": action_id,
        "name": "trigger_1",
        "type": "trigger",
        "config": config or {"type": "event", "filters": {"events": [{"id": "$pageview", "type": "events"}]}},
    }


def webhook_trigger() -> dict[str, Any]:
    return trigger_action(
        {"type": "webhook", "template_id": "template-webhook", "inputs": {"url": {"value": "https://example.com"}}}
    )


def exit_action(action_id: str = "exit_node") -> dict[str, Any]:
    return {"id": action_id, "name": "exit", "type": "exit", "config": {"reason": "done"}}


def flow_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "Test Flow",
        "actions": [trigger_action(), exit_action()],
        "edges": [{"from": "trigger_node", "to": "exit_node", "type": "continue"}],
    }
    payload.update(overrides)
    if "actions" in overrides and "edges" not in overrides:
        payload["actions"], payload["edges"] = wired(payload["actions"])
    return payload


async def create_schedule_flow(client: httpx.AsyncClient, tenant: Tenant) -> str:
    """A minimal draft flow (a schedule trigger and nothing else); returns its id."""
    payload = flow_payload(actions=[trigger_action({"type": "schedule"})], edges=[])
    response = await client.post(flows_url(tenant), json=payload, headers=auth(tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


SLACK: dict[str, Any] = {
    "kind": "slack",
    "integration_id": "T123",
    "config": {"team": {"id": "T123", "name": "Acme"}},
    "sensitive_config": {"access_token": "xoxb-very-secret"},
}


def integrations_url(tenant: Tenant, prefix: str = "environments") -> str:
    return f"/api/{prefix}/{tenant.team_id}/integrations/"


def _branch_slots(action: dict[str, Any]) -> int:
    config = action.get("config") or {}
    kind = action.get("type")
    if kind == "conditional_branch":
        return len(config.get("conditions") or [])
    if kind == "random_cohort_branch":
        return len(config.get("cohorts") or [])
    return 1 if kind == "wait_until_condition" else 0


def wired(actions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`actions` in order, each joined to the next by its continue and branch edges, ending on an exit
    (appended when there is none): the smallest graph an active flow accepts. Malformed actions (a
    test of the action rules) are left as they are, unwired."""
    if not isinstance(actions, list) or not all(isinstance(a, dict) and isinstance(a.get("id"), str) for a in actions):
        return actions, []
    steps = [action for action in actions if action.get("type") != "exit"]
    exits = [action for action in actions if action.get("type") == "exit"] or [exit_action()]
    ordered = [*steps, exits[0]]
    edges: list[dict[str, Any]] = []
    for current, following in itertools.pairwise(ordered):
        edges.append({"from": current["id"], "to": following["id"], "type": "continue"})
        edges.extend(
            {"from": current["id"], "to": following["id"], "type": "branch", "index": index}
            for index in range(_branch_slots(current))
        )
    return [*ordered, *exits[1:]], edges
