"""List rendering, pagination and filters (spec/api.md §2.2, §9.5, §9.6)."""

import json
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flow_payload, flows_url, trigger_action
from tests.conftest import TenantFactory

SCHEDULE = trigger_action({"type": "schedule"})
BATCH = trigger_action(
    {"type": "batch", "filters": {"properties": [{"key": "plan", "value": "pro", "type": "person"}]}}
)


async def create(client: httpx.AsyncClient, tenant: Tenant, name: str, trigger: dict = SCHEDULE) -> str:
    response = await client.post(
        flows_url(tenant), json=flow_payload(name=name, actions=[trigger]), headers=auth(tenant)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def list_flows(client: httpx.AsyncClient, tenant: Tenant, **params: str | int) -> httpx.Response:
    return await client.get(flows_url(tenant), params=params, headers=auth(tenant))


class TestPagination:
    async def test_pages_newest_update_first(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        ids = [await create(client, tenant, f"flow {i}") for i in range(5)]
        first = (await list_flows(client, tenant, limit=2)).json()
        assert first["count"] == 5
        assert [flow["id"] for flow in first["results"]] == ids[::-1][:2]
        assert first["previous"] is None
        next_url = urlparse(first["next"])
        assert next_url.scheme == "http" and next_url.path == flows_url(tenant)
        assert parse_qs(next_url.query) == {"limit": ["2"], "offset": ["2"]}

        second = (await client.get(first["next"], headers=auth(tenant))).json()
        assert [flow["id"] for flow in second["results"]] == ids[::-1][2:4]
        assert parse_qs(urlparse(second["previous"]).query) == {"limit": ["2"]}
        last = (await list_flows(client, tenant, limit=2, offset=4)).json()
        assert [flow["id"] for flow in last["results"]] == [ids[0]]
        assert last["next"] is None

    async def test_default_page_size_and_bad_params(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await create(client, tenant, "only")
        for params in ({}, {"limit": "abc"}, {"limit": -5, "offset": "x"}):
            body = (await list_flows(client, tenant, **params)).json()
            assert body["count"] == 1
            assert len(body["results"]) == 1

    async def test_updating_moves_a_flow_first(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        older = await create(client, tenant, "older")
        await create(client, tenant, "newer")
        await client.patch(f"{flows_url(tenant)}{older}/", json={"name": "touched"}, headers=auth(tenant))
        body = (await list_flows(client, tenant)).json()
        assert body["results"][0]["id"] == older


class TestFilters:
    async def test_trigger_containment(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        schedule_id = await create(client, tenant, "scheduled")
        batch_id = await create(client, tenant, "batch", BATCH)
        found = (await list_flows(client, tenant, trigger=json.dumps({"type": "batch"}))).json()
        assert [flow["id"] for flow in found["results"]] == [batch_id]
        nested = {"filters": {"properties": [{"key": "plan"}]}}
        found = (await list_flows(client, tenant, trigger=json.dumps(nested))).json()
        assert [flow["id"] for flow in found["results"]] == [batch_id]
        everything = (await list_flows(client, tenant, trigger="{}")).json()
        assert {flow["id"] for flow in everything["results"]} == {schedule_id, batch_id}

    @pytest.mark.parametrize("trigger", ["{not json", "[1, 2]", '"text"'])
    async def test_invalid_trigger_param(self, client: httpx.AsyncClient, tenant: Tenant, trigger: str) -> None:
        response = await list_flows(client, tenant, trigger=trigger)
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "code": "invalid_input",
            "detail": "Invalid trigger",
            "attr": "trigger",
        }

    async def test_id_created_by_and_status(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        tenant = await make_tenant()
        first = await create(client, tenant, "a")
        await create(client, tenant, "b")
        found = (await list_flows(client, tenant, id=first)).json()
        assert [flow["id"] for flow in found["results"]] == [first]
        assert (await list_flows(client, tenant, created_by=tenant.user_id)).json()["count"] == 2
        assert (await list_flows(client, tenant, created_by=tenant.user_id + 1000)).json()["count"] == 0
        await client.patch(f"{flows_url(tenant)}{first}/", json={"status": "archived"}, headers=auth(tenant))
        found = (await list_flows(client, tenant, status="archived")).json()
        assert [flow["id"] for flow in found["results"]] == [first]

    async def test_bad_filter_values(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        for params in ({"id": "nope"}, {"created_by": "me"}, {"created_at": "yesterday"}):
            response = await list_flows(client, tenant, **params)
            assert response.status_code == 400, params
            assert response.json()["attr"] == next(iter(params))

    async def test_only_own_team(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        mine = await make_tenant()
        theirs = await make_tenant()
        await create(client, theirs, "theirs")
        own = await create(client, mine, "mine")
        body = (await list_flows(client, mine)).json()
        assert body["count"] == 1
        assert body["results"][0]["id"] == own


class TestListRendering:
    async def test_list_returns_actions_as_stored(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await create(client, tenant, "stored")
        listed = (await list_flows(client, tenant)).json()["results"][0]
        detail = (await client.get(f"{flows_url(tenant)}{listed['id']}/", headers=auth(tenant))).json()
        assert listed["actions"] == detail["actions"]
        # The detail alone nests the schedules (as PostHog's detail serializer does).
        assert set(listed) | {"schedules"} == set(detail)
