"""Small builders for flow payloads and authenticated requests."""

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
