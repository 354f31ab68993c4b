"""`PATCH /hog_flows/{id}/graph`: PostHog's id-addressed graph operations, all or nothing."""

from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.draft_helpers import create_active, get, urls, webhook_action
from tests.api.helpers import auth, flows_url, trigger_action


def three_steps(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Graph Flow",
        "actions": [trigger_action(), webhook_action("action_1"), webhook_action("action_2")],
        "edges": [
            {"from": "trigger_node", "to": "action_1", "type": "continue"},
            {"from": "action_1", "to": "action_2", "type": "continue"},
        ],
        **extra,
    }


async def create(client: httpx.AsyncClient, tenant: Tenant, **extra: Any) -> dict[str, Any]:
    response = await client.post(flows_url(tenant), json=three_steps(**extra), headers=auth(tenant))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def patch_graph(
    client: httpx.AsyncClient, tenant: Tenant, flow_id: str, *operations: dict[str, Any], **extra: Any
) -> httpx.Response:
    body = {"operations": list(operations), **extra}
    return await client.patch(f"{flows_url(tenant)}{flow_id}/graph", json=body, headers=auth(tenant))


async def test_update_action_deep_merges_and_echoes_the_flow(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create(client, tenant)
    response = await patch_graph(
        client,
        tenant,
        flow["id"],
        {"op": "update_action", "id": "action_1", "patch": {"config": {"inputs": {"url": {"value": "https://x.io"}}}}},
        {"op": "update_action", "id": "action_2", "patch": {"description": "second"}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"id", "name", "actions", "edges", "version", "trigger"}
    assert urls(body["actions"]) == ["https://x.io", "https://example.com"]
    action_1 = next(a for a in body["actions"] if a["id"] == "action_1")
    assert action_1["config"]["template_id"] == "template-webhook", "the rest of config is kept"
    assert next(a for a in body["actions"] if a["id"] == "action_2")["description"] == "second"
    assert body["edges"] == flow["edges"]


async def test_null_leaf_deletes_a_key(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create(client, tenant)
    patch = {"config": {"inputs": {"body": {"value": "{}"}}}}
    await patch_graph(client, tenant, flow["id"], {"op": "update_action", "id": "action_1", "patch": patch})
    removed = await patch_graph(
        client,
        tenant,
        flow["id"],
        {"op": "update_action", "id": "action_1", "patch": {"config": {"inputs": {"body": None}}}},
    )
    assert removed.status_code == 200, removed.text
    action_1 = next(a for a in removed.json()["actions"] if a["id"] == "action_1")
    assert "body" not in action_1["config"]["inputs"]


async def test_remove_action_reconnects_its_edges(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create(client, tenant)
    response = await patch_graph(client, tenant, flow["id"], {"op": "remove_action", "id": "action_1"})
    assert response.status_code == 200, response.text
    assert [a["id"] for a in response.json()["actions"]] == ["trigger_node", "action_2"]
    assert response.json()["edges"] == [{"from": "trigger_node", "to": "action_2", "type": "continue"}]


async def test_add_action_and_edges(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create(client, tenant)
    response = await patch_graph(
        client,
        tenant,
        flow["id"],
        {"op": "add_action", "action": {"id": "bye", "name": "bye", "type": "exit", "config": {}}},
        {"op": "add_edge", "edge": {"from": "action_2", "to": "bye", "type": "continue"}},
        {"op": "remove_edge", "edge": {"from": "action_1", "to": "action_2", "type": "continue"}},
        {
            "op": "replace_action_edges",
            "id": "action_1",
            "edges": [{"from": "action_1", "to": "bye", "type": "continue"}],
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["edges"] == [
        {"from": "trigger_node", "to": "action_1", "type": "continue"},
        {"from": "action_2", "to": "bye", "type": "continue"},
        {"from": "action_1", "to": "bye", "type": "continue"},
    ]


@pytest.mark.parametrize(
    ("operations", "attr", "detail"),
    [
        (
            [{"op": "update_action", "id": "ghost", "patch": {}}],
            "operations",
            "update_action: action 'ghost' not found",
        ),
        ([{"op": "remove_action", "id": "ghost"}], "operations", "remove_action: action 'ghost' not found"),
        (
            [{"op": "add_action", "action": {"id": "action_1", "name": "dup", "type": "exit", "config": {}}}],
            "operations",
            "add_action: action id 'action_1' already exists",
        ),
        (
            [{"op": "remove_edge", "edge": {"from": "action_2", "to": "action_1", "type": "continue"}}],
            "operations",
            "remove_edge: no matching edge found",
        ),
        (
            [{"op": "add_edge", "edge": {"from": "action_2", "to": "nowhere", "type": "continue"}}],
            "graph",
            "Edge references unknown target action 'nowhere'.",
        ),
        (
            [{"op": "add_edge", "edge": {"from": "action_1", "to": "action_2", "type": "branch", "index": 0}}],
            "graph",
            "Action 'action_1' (type function) does not support branch edges.",
        ),
        (
            [
                {
                    "op": "add_action",
                    "action": {"id": "t2", "name": "t2", "type": "trigger", "config": {"type": "manual"}},
                }
            ],
            "graph",
            "Exactly one trigger action is required (found 2).",
        ),
        ([{"op": "update_action", "id": "action_1"}], "operations__0", "op 'update_action' requires: patch"),
        ([{"op": "teleport"}], "operations__0__op", None),
        ([], "operations", None),
        (
            [{"op": "update_action", "id": "action_1", "patch": {"name": None}}],
            "actions__1__name",
            "This field is required.",
        ),
    ],
)
async def test_invalid_operations_write_nothing(
    client: httpx.AsyncClient, tenant: Tenant, operations: list[dict[str, Any]], attr: str, detail: str | None
) -> None:
    flow = await create(client, tenant)
    # A valid first operation proves the whole list is rejected, not just the bad part.
    rename = {"op": "update_action", "id": "action_2", "patch": {"name": "renamed"}}
    response = await patch_graph(client, tenant, flow["id"], rename, *operations) if operations else None
    if response is None:
        response = await patch_graph(client, tenant, flow["id"])
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["attr"] == (attr.replace("operations__0", "operations__1") if operations else attr)
    if detail is not None:
        assert body["detail"] == detail
    stored = await get(client, tenant, flow["id"])
    assert stored["actions"] == flow["actions"]
    assert stored["edges"] == flow["edges"]
    assert stored["updated_at"] == flow["updated_at"]


async def test_wait_needs_its_resolution_edge(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create(client, tenant)
    wait = {
        "id": "wait",
        "name": "wait",
        "type": "wait_until_condition",
        "config": {"condition": {"filters": None}, "max_wait_duration": "1h"},
    }
    response = await patch_graph(
        client,
        tenant,
        flow["id"],
        {"op": "add_action", "action": wait},
        {"op": "add_edge", "edge": {"from": "action_2", "to": "wait", "type": "continue"}},
    )
    assert response.status_code == 400, response.text
    assert response.json()["attr"] == "graph"
    assert response.json()["detail"].startswith("wait_until_condition 'wait' is missing its resolution edge")


async def test_live_graph_edit_bumps_version(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create_active(client, tenant)
    response = await patch_graph(
        client, tenant, flow["id"], {"op": "update_action", "id": "action_1", "patch": {"name": "renamed"}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2
    assert response.json()["draft"] is None


async def test_graph_edit_of_active_flow_can_be_staged(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = await create_active(client, tenant)
    op = {"op": "update_action", "id": "action_1", "patch": {"config": {"inputs": {"url": {"value": "https://d1.io"}}}}}
    first = await patch_graph(client, tenant, flow["id"], op, stage_draft=True)
    assert first.status_code == 200, first.text
    assert urls(first.json()["actions"]) == ["https://example.com"]
    assert urls(first.json()["draft"]["actions"]) == ["https://d1.io"]
    # A second staged edit applies to the draft, not to the live graph.
    add = {"op": "add_action", "action": webhook_action("action_2", "https://added.io")}
    edge = {"op": "add_edge", "edge": {"from": "action_1", "to": "action_2", "type": "continue"}}
    onward = {"op": "add_edge", "edge": {"from": "action_2", "to": "exit_node", "type": "continue"}}
    headers = {**auth(tenant), "x-posthog-client": "mcp"}
    second = await client.patch(
        f"{flows_url(tenant)}{flow['id']}/graph", json={"operations": [add, edge, onward]}, headers=headers
    )
    assert second.status_code == 200, second.text
    assert urls(second.json()["draft"]["actions"]) == ["https://d1.io", "https://added.io"]
    assert second.json()["version"] == 1
    stale = await patch_graph(
        client, tenant, flow["id"], op, stage_draft=True, base_updated_at=first.json()["draft_updated_at"]
    )
    assert stale.status_code == 409, stale.text


async def test_graph_of_unknown_flow_is_404(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await patch_graph(
        client, tenant, "00000000-0000-0000-0000-000000000000", {"op": "remove_action", "id": "a"}
    )
    assert response.status_code == 404, response.text
