"""Capture evaluates an event only against the flows whose trigger names it (or names no event)."""

import asyncio
import time
from typing import Any

import httpx
import pytest

from app.ingest.flows import EventFlow, FlowIndex, trigger_event_names
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import create_flow, event_flow, metric_totals, runs


async def capture(client: httpx.AsyncClient, tenant: Tenant, *names: str, distinct_id: str = "ada") -> None:
    batch = [{"event": name, "distinct_id": distinct_id, "properties": {}} for name in names]
    response = await client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    assert response.status_code == 200, response.text


def any_event_flow() -> dict[str, Any]:
    flow = event_flow()
    flow["actions"][0]["config"]["filters"] = {"events": [{"id": None, "type": "events", "name": "All events"}]}
    return flow


async def test_a_new_trigger_event_matches_right_after_the_save(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow(["signed_up"]))
    await capture(client, tenant, "signed_up", "upgraded")  # loads the team's flows into the cache
    assert len(await runs(client, tenant, flow_id)) == 1
    patched = event_flow(["upgraded"])
    response = await client.patch(
        f"{flows_url(tenant)}{flow_id}/", json={"actions": patched["actions"]}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    await capture(client, tenant, "signed_up", "upgraded")
    started = await runs(client, tenant, flow_id)
    assert len(started) == 2
    # Events the flow does not name still count as filtered: signed_up, then upgraded, then signed_up.
    assert (await metric_totals(client, tenant, flow_id))["filtered"] == 2


async def test_a_flow_created_or_deactivated_is_seen_by_the_next_event(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    first = await create_flow(client, tenant, event_flow(["signed_up"]))
    await capture(client, tenant, "signed_up")
    second = await create_flow(client, tenant, event_flow(["signed_up"]))
    await capture(client, tenant, "signed_up")
    assert (len(await runs(client, tenant, first)), len(await runs(client, tenant, second))) == (2, 1)
    response = await client.patch(f"{flows_url(tenant)}{first}/", json={"status": "draft"}, headers=auth(tenant))
    assert response.status_code == 200
    await capture(client, tenant, "signed_up")
    assert (len(await runs(client, tenant, first)), len(await runs(client, tenant, second))) == (2, 2)


async def test_any_event_flows_still_match_everything(client: httpx.AsyncClient, tenant: Tenant) -> None:
    named = await create_flow(client, tenant, event_flow(["signed_up"]))
    anything = await create_flow(client, tenant, any_event_flow())
    await capture(client, tenant, "signed_up", "$pageview", "upgraded")
    assert len(await runs(client, tenant, named)) == 1
    assert len(await runs(client, tenant, anything)) == 3
    assert (await metric_totals(client, tenant, named))["filtered"] == 2


@pytest.mark.parametrize(
    ("filters", "names"),
    [
        ({"events": [{"id": "a", "type": "events"}, {"id": "b", "type": "events"}]}, frozenset({"a", "b"})),
        ({"events": [{"id": "a", "type": "events"}], "properties": [{"key": "x", "value": 1}]}, frozenset({"a"})),
        ({"events": [{"id": None, "type": "events"}]}, None),
        ({"events": [{"id": "a", "type": "events"}, {"id": None, "type": "events"}]}, None),
        ({"events": [{"id": 5, "type": "events"}]}, None),
        ({"events": [{"id": "a", "type": "events"}], "actions": [{"id": 3, "type": "actions"}]}, None),
        ({"events": [{"id": "a"}]}, None),  # no type: compiles to an always-true branch
        ({"properties": [{"key": "x", "value": 1}]}, None),
        ({}, None),
        ({"events": "not a list"}, None),
    ],
)
def test_trigger_event_names(filters: dict[str, Any], names: frozenset[str] | None) -> None:
    assert trigger_event_names(filters) == names


def test_the_index_keeps_the_team_order() -> None:
    def flow(order: int, names: frozenset[str] | None) -> EventFlow:
        import uuid

        return EventFlow(uuid.uuid4(), 1, {}, None, {}, event_names=names, order=order)

    flows = [flow(0, frozenset({"a"})), flow(1, None), flow(2, frozenset({"a", "b"})), flow(3, frozenset({"c"}))]
    index = FlowIndex(flows)
    assert index.for_event("a") == flows[:3]
    assert index.for_event("b") == [flows[1], flows[2]]
    assert index.for_event("zzz") == [flows[1]]


async def test_not_named_counts_of_concurrent_requests_add_up_exactly(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    """A busy team's groups hold their not-named `filtered` counts for the next group (at most a second):
    none is lost or counted twice, and once capture is quiet they are all written."""
    named = await create_flow(client, tenant, event_flow(["signed_up"]))
    await asyncio.gather(*(capture(client, tenant, "upgraded", "$pageview", distinct_id=f"p{n}") for n in range(40)))
    deadline = time.monotonic() + 10
    while (totals := await metric_totals(client, tenant, named)).get("filtered") != 80:
        assert time.monotonic() < deadline, totals
        await asyncio.sleep(0.05)
    await capture(client, tenant, "upgraded")  # a quiet team writes at once
    assert (await metric_totals(client, tenant, named))["filtered"] == 81
