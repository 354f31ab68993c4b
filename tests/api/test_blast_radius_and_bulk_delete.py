"""`POST {p}/hog_flows/user_blast_radius/` (§8.1) and `POST {p}/hog_flows/bulk_delete/` (§8.2)."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlowBatchJob, HogFlowSchedule, Team
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.batch_helpers import (
    batch_flow,
    batch_jobs_url,
    create_flow,
    person_filter,
    schedules_url,
    upsert_persons,
)
from tests.api.helpers import auth, flow_payload, flows_url
from tests.conftest import TenantFactory

# A hand-made audience of 12 persons.
AUDIENCE: list[dict[str, Any]] = [
    {"distinct_id": "ann", "properties": {"plan": "pro", "age": 34, "email": "ann@acme.com", "country": "CZ"}},
    {"distinct_id": "ben", "properties": {"plan": "pro", "age": 19, "email": "ben@gmail.com", "country": "DE"}},
    {"distinct_id": "cat", "properties": {"plan": "free", "age": 45, "email": "cat@acme.com", "country": "CZ"}},
    {"distinct_id": "dan", "properties": {"plan": "free", "age": "52", "email": "dan@yahoo.com"}},
    {"distinct_id": "eve", "properties": {"plan": "pro", "age": 28.5, "email": "eve@acme.com", "country": "FR"}},
    {"distinct_id": "fay", "properties": {"plan": "Pro", "email": "fay@acme.com"}},
    {"distinct_id": "gus", "properties": {"plan": None, "age": 61}},
    {"distinct_id": "hal", "properties": {}},
    {"distinct_id": "ivy", "properties": {"plan": "enterprise", "age": 40, "email": "ivy@internal.test", "vip": True}},
    {"distinct_id": "jon", "properties": {"plan": "pro", "age": "n/a", "vip": False}},
    {"distinct_id": "kim", "properties": {"plan": "pro", "age": 70, "email": "kim@internal.test", "vip": True}},
    {"distinct_id": "lou", "properties": {"plan": "free", "age": 18, "country": "CZ", "tags": ["a", "b"]}},
]

CASES: list[tuple[Any, int]] = [
    ([], 12),
    ([person_filter("plan", "pro")], 5),
    ([person_filter("plan", "pro", "is_not")], 7),
    ([person_filter("plan", ["pro", "free"])], 8),
    ([person_filter("plan", None, "is_set")], 10),
    ([person_filter("plan", None, "is_not_set")], 2),
    ([person_filter("age", 30, "gt")], 6),
    ([person_filter("age", "30", "lt")], 3),  # "52" and "n/a" compare as text: not below "30"
    ([person_filter("age", [20, 50], "between")], 4),
    ([person_filter("email", "acme", "icontains")], 4),
    ([person_filter("email", "ACME.COM", "not_icontains")], 8),
    ([person_filter("email", r"@(gmail|yahoo)\.com$", "regex")], 2),
    ([person_filter("vip", "true")], 2),
    ([person_filter("vip", True)], 2),
    ([person_filter("country", ["CZ", "DE"], "in")], 4),
    ([person_filter("distinct_id", ["ann", "kim", "nobody"])], 2),  # decided by the VM, with distinct ids
    ([person_filter("distinct_id", "a", "icontains"), person_filter("plan", "pro")], 1),
    ([person_filter("plan", "pro"), person_filter("age", 25, "gte")], 3),
    ([{"type": "OR", "values": [person_filter("country", "FR"), person_filter("vip", "true")]}], 3),
]


@pytest.fixture
async def audience(client: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    await upsert_persons(client, tenant, AUDIENCE)
    return tenant


def counts(affected: int, total: int) -> dict[str, Any]:
    """The answer without a dedupe key, below the confirmation threshold, with no audience cap."""
    return {
        "affected": affected,
        "total": total,
        "limit": None,
        "dedupe_key": None,
        "without_email": None,
        "confirm_token": None,
    }


async def blast(client: httpx.AsyncClient, tenant: Tenant, body: Any) -> httpx.Response:
    return await client.post(f"{flows_url(tenant)}user_blast_radius/", json=body, headers=auth(tenant))


class TestBlastRadius:
    @pytest.mark.parametrize(("properties", "affected"), CASES, ids=[repr(c[0])[:60] for c in CASES])
    async def test_counts(
        self, client: httpx.AsyncClient, audience: Tenant, properties: list[Any], affected: int
    ) -> None:
        response = await blast(client, audience, {"filters": {"properties": properties}})
        assert response.status_code == 200, response.text
        assert response.json() == counts(affected, 12)

    async def test_matches_the_batch_audience(
        self, client: httpx.AsyncClient, audience: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        """The preview and the batch job select the same persons."""
        properties = [person_filter("plan", "pro"), person_filter("age", 25, "gte")]
        flow_id = await create_flow(client, audience, batch_flow(properties))
        job = (await client.post(batch_jobs_url(audience, flow_id), json={}, headers=auth(audience))).json()
        from tests.polling import wait_for

        async def done() -> Any:
            jobs = (await client.get(batch_jobs_url(audience, flow_id), headers=auth(audience))).json()
            return jobs[0] if jobs[0]["status"] == "completed" else None

        finished = await wait_for(done, within=60)
        assert finished["id"] == job["id"]
        preview = (await blast(client, audience, {"filters": {"properties": properties}})).json()
        assert finished["runs_created"] == preview["affected"] == 3

    async def test_test_accounts_are_filtered_out(
        self, client: httpx.AsyncClient, audience: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with session_scope(sessionmaker) as session:
            team = await session.get(Team, audience.team_id)
            assert team is not None
            team.test_account_filters = [person_filter("email", "@internal.test", "not_icontains")]
        body = {"filters": {"properties": [person_filter("vip", True)], "filter_test_accounts": True}}
        assert (await blast(client, audience, body)).json() == counts(0, 12)
        body["filters"]["filter_test_accounts"] = False
        assert (await blast(client, audience, body)).json() == counts(2, 12)

    async def test_empty_team(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await blast(client, tenant, {"filters": {"properties": [person_filter("plan", "pro")]}})
        assert response.json() == counts(0, 0)

    async def test_group_type_index_is_accepted(self, client: httpx.AsyncClient, audience: Tenant) -> None:
        body = {"filters": {"properties": [person_filter("plan", "pro")]}, "group_type_index": None}
        assert (await blast(client, audience, body)).json() == counts(5, 12)

    async def test_missing_filters(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        for body in ({}, {"group_type_index": 0}, [1]):
            response = await blast(client, tenant, body)
            assert response.status_code == 400
            assert response.json() == {
                "type": "validation_error",
                "code": "invalid_input",
                "detail": "Missing filters for which to get blast radius",
                "attr": "filters",
            }

    async def test_uncompilable_filters(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        body = {"filters": {"properties": [{"key": "id", "value": 3, "type": "cohort"}]}}
        response = await blast(client, tenant, body)
        assert response.status_code == 400
        assert response.json()["attr"] == "filters"
        assert "cohort" in response.json()["detail"].lower()
        response = await blast(client, tenant, {"filters": [1]})
        assert response.status_code == 400
        assert response.json()["attr"] == "filters"

    async def test_scopes(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        owner = await make_tenant()
        body: dict[str, Any] = {"filters": {"properties": []}}
        for scopes, missing in (
            (["hog_flow:read"], "person:read"),
            (["person:read"], "hog_flow:read"),
            (["hog_flow:read", "person:read"], None),
        ):
            key = await make_tenant(email=owner.email, scopes=scopes)
            response = await client.post(
                f"{flows_url(owner)}user_blast_radius/", json=body, headers={"Authorization": f"Bearer {key.api_key}"}
            )
            if missing is None:
                assert response.status_code == 200
            else:
                assert response.status_code == 403
                assert response.json()["detail"] == f"API key missing required scope '{missing}'"


async def bulk_delete(client: httpx.AsyncClient, tenant: Tenant, body: Any) -> httpx.Response:
    return await client.post(f"{flows_url(tenant)}bulk_delete/", json=body, headers=auth(tenant))


async def flow_with_status(client: httpx.AsyncClient, tenant: Tenant, status: str) -> str:
    response = await client.post(flows_url(tenant), json=flow_payload(status=status), headers=auth(tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class TestBulkDelete:
    async def test_only_archived_flows_are_deleted(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        draft = await flow_with_status(client, tenant, "draft")
        archived = [await flow_with_status(client, tenant, "archived") for _ in range(2)]
        response = await bulk_delete(client, tenant, {"ids": [draft, *archived]})
        assert response.status_code == 200
        assert response.json() == {"deleted": 2}
        remaining = (await client.get(flows_url(tenant), headers=auth(tenant))).json()
        assert [flow["id"] for flow in remaining["results"]] == [draft]

    async def test_draft_and_active_are_kept(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        ids = [await flow_with_status(client, tenant, status) for status in ("draft", "active")]
        assert (await bulk_delete(client, tenant, {"ids": ids})).json() == {"deleted": 0}
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).json()["count"] == 2

    async def test_other_teams_flows_are_untouched(
        self, client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
    ) -> None:
        other = await make_tenant(email=tenant.email)
        theirs = await flow_with_status(client, other, "archived")
        assert (await bulk_delete(client, tenant, {"ids": [theirs]})).json() == {"deleted": 0}
        assert (await client.get(f"{flows_url(other)}{theirs}/", headers=auth(other))).status_code == 200

    async def test_unknown_ids_are_ignored(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        assert (await bulk_delete(client, tenant, {"ids": [str(uuid.uuid4())]})).json() == {"deleted": 0}

    async def test_count_includes_cascaded_schedules_and_batch_jobs(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        flow_id = await create_flow(client, tenant, batch_flow())
        schedule = {"rrule": "FREQ=DAILY", "starts_at": "2024-01-01T00:00:00Z"}
        for _ in range(2):
            assert (
                await client.post(schedules_url(tenant, flow_id), json=schedule, headers=auth(tenant))
            ).status_code == 201
        job = {"status": "waiting"}
        assert (await client.post(batch_jobs_url(tenant, flow_id), json=job, headers=auth(tenant))).status_code == 200
        archived = await client.patch(
            f"{flows_url(tenant)}{flow_id}/", json={"status": "archived"}, headers=auth(tenant)
        )
        assert archived.status_code == 200
        assert (await bulk_delete(client, tenant, {"ids": [flow_id]})).json() == {"deleted": 4}
        async with session_scope(sessionmaker) as session:
            for model in (HogFlowSchedule, HogFlowBatchJob):
                left = await session.scalar(
                    select(func.count()).select_from(model).where(model.hog_flow_id == uuid.UUID(flow_id))
                )
                assert left == 0

    @pytest.mark.parametrize(
        ("body", "error"),
        [
            ({}, "A non-empty list of 'ids' is required"),
            ({"ids": []}, "A non-empty list of 'ids' is required"),
            ({"ids": "abc"}, "A non-empty list of 'ids' is required"),
            ({"ids": None}, "A non-empty list of 'ids' is required"),
            ([1, 2], "A non-empty list of 'ids' is required"),
            ({"ids": ["not-a-uuid"]}, "One or more IDs are not valid UUIDs"),
            ({"ids": [str(uuid.uuid4()), 12]}, "One or more IDs are not valid UUIDs"),
        ],
    )
    async def test_errors(self, client: httpx.AsyncClient, tenant: Tenant, body: Any, error: str) -> None:
        response = await bulk_delete(client, tenant, body)
        assert response.status_code == 400
        assert response.json() == {"error": error}

    async def test_needs_write_scope(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        owner = await make_tenant()
        reader = await make_tenant(email=owner.email, scopes=["hog_flow:read"])
        response = await client.post(
            f"{flows_url(owner)}bulk_delete/", json={"ids": []}, headers={"Authorization": f"Bearer {reader.api_key}"}
        )
        assert response.status_code == 403
        assert response.json()["detail"] == "API key missing required scope 'hog_flow:write'"
