"""Graph wiring is checked when a flow is activated: each error a 400 naming the field; drafts stay lenient."""

from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url


def action(action_id: str, kind: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": action_id, "name": action_id, "type": kind, "config": config or {}}


TRIGGER = action("trigger", "trigger", {"type": "schedule"})
DELAY = action("delay", "delay", {"delay_duration": "1h"})
EXIT = action("exit", "exit")
CONDITIONS: dict[str, Any] = {"conditions": [{"filters": {}}, {"filters": {}}]}


def edge(source: str, target: str, kind: str = "continue", index: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"from": source, "to": target, "type": kind}
    if index is not None:
        found["index"] = index
    return found


GOOD_EDGES = [edge("trigger", "delay"), edge("delay", "exit")]

CASES = [
    pytest.param(
        [TRIGGER, DELAY, EXIT],
        [edge("trigger", "delay"), edge("delay", "nowhere")],
        "edges__1__to",
        "Edge references unknown target action 'nowhere'.",
        id="unknown target",
    ),
    pytest.param(
        [TRIGGER, DELAY, EXIT],
        [edge("ghost", "delay"), *GOOD_EDGES],
        "edges__0__from",
        "Edge references unknown source action 'ghost'.",
        id="unknown source",
    ),
    pytest.param(
        [TRIGGER, DELAY, {**DELAY, "name": "again"}, EXIT],
        GOOD_EDGES,
        "actions__2__id",
        "Duplicate action id(s): delay. Action ids must be unique.",
        id="duplicate id",
    ),
    pytest.param(
        [TRIGGER, DELAY, EXIT],
        [edge("trigger", "delay")],
        "actions__1",
        "Action 'delay' (type delay) has no outgoing edge. Every action except exit needs one.",
        id="dead end",
    ),
    pytest.param(
        [TRIGGER, action("split", "conditional_branch", CONDITIONS), EXIT],
        [edge("trigger", "split"), edge("split", "exit"), edge("split", "exit", "branch", 0)],
        "actions__1__config",
        "conditional_branch 'split' has no 'branch' edge for condition 1.",
        id="missing branch",
    ),
    pytest.param(
        [TRIGGER, action("split", "conditional_branch", CONDITIONS), EXIT],
        [edge("trigger", "split"), edge("split", "exit"), *(edge("split", "exit", "branch", i) for i in (0, 1, 2))],
        "edges__4__index",
        "Branch edge from 'split' has index 2 out of range [0, 2).",
        id="branch out of range",
    ),
    pytest.param(
        [TRIGGER, DELAY, EXIT],
        [edge("trigger", "delay"), edge("delay", "exit"), edge("delay", "exit", "branch", 0)],
        "edges__2__type",
        "Action 'delay' (type delay) does not support branch edges.",
        id="branch from a delay",
    ),
    pytest.param(
        [TRIGGER, DELAY, action("orphan", "delay", {"delay_duration": "1m"}), EXIT],
        [*GOOD_EDGES, edge("orphan", "exit")],
        "actions",
        "Action(s) not reachable from the trigger: orphan.",
        id="unreachable",
    ),
]


@pytest.mark.parametrize(("actions", "edges", "attr", "detail"), CASES)
async def test_activation_checks_the_graph(
    client: httpx.AsyncClient, tenant: Tenant, actions: Any, edges: Any, attr: str, detail: str
) -> None:
    body = {"name": "g", "actions": actions, "edges": edges}
    active = await client.post(flows_url(tenant), json={**body, "status": "active"}, headers=auth(tenant))
    assert active.status_code == 400, active.text
    assert active.json()["attr"] == attr
    assert active.json()["detail"] == detail

    draft = await client.post(flows_url(tenant), json=body, headers=auth(tenant))
    assert draft.status_code == 201, draft.text
    flow_url = f"{flows_url(tenant)}{draft.json()['id']}/"
    activate = await client.patch(flow_url, json={"status": "active"}, headers=auth(tenant))
    assert activate.status_code == 400, activate.text
    assert activate.json()["attr"] == attr
    assert (await client.get(flow_url, headers=auth(tenant))).json()["status"] == "draft"


async def test_a_wired_graph_activates(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"name": "g", "status": "active", "actions": [TRIGGER, DELAY, EXIT], "edges": GOOD_EDGES}
    response = await client.post(flows_url(tenant), json=body, headers=auth(tenant))
    assert response.status_code == 201, response.text
