"""`{p}/persons/`: upsert one or many (10,000 in one request), list with filters, read one."""

import time
import uuid
from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.batch_helpers import persons_url
from tests.api.helpers import auth
from tests.conftest import TenantFactory


async def upsert(client: httpx.AsyncClient, tenant: Tenant, body: object) -> httpx.Response:
    return await client.post(persons_url(tenant), json=body, headers=auth(tenant))


class TestUpsertOne:
    async def test_creates_then_updates(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        first = await upsert(client, tenant, {"distinct_id": "ada", "properties": {"email": "ada@example.com", "n": 1}})
        assert first.status_code == 200, first.text
        person = first.json()
        assert set(person) == {"id", "uuid", "name", "distinct_ids", "properties", "created_at", "updated_at"}
        assert person["distinct_ids"] == ["ada"]
        assert person["name"] == "ada@example.com"
        assert person["id"] == person["uuid"]
        second = await upsert(
            client,
            tenant,
            {"distinct_id": "ada", "properties": {"n": 2}, "properties_set_once": {"n": 9, "first": "x"}},
        )
        assert second.json()["id"] == person["id"]
        assert second.json()["properties"] == {"email": "ada@example.com", "n": 2, "first": "x"}

    async def test_set_once_never_overwrites(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await upsert(client, tenant, {"distinct_id": "bo", "properties_set_once": {"source": "ad"}})
        again = await upsert(client, tenant, {"distinct_id": "bo", "properties_set_once": {"source": "email"}})
        assert again.json()["properties"] == {"source": "ad"}

    async def test_validation(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        cases = [
            ({}, "distinct_id", "required", "This field is required."),
            ({"distinct_id": ""}, "distinct_id", "blank", "This field may not be blank."),
            ({"distinct_id": "x", "properties": [1]}, "properties", "invalid_input", None),
            ({"persons": [{"properties": {}}]}, "persons__0__distinct_id", "required", "This field is required."),
            ({"persons": [{"distinct_id": "a"}, {"distinct_id": " "}]}, "persons__1__distinct_id", "blank", None),
            ({"persons": {"a": 1}}, "persons", "not_a_list", None),
            ({"distinct_id": "x" * 401}, "distinct_id", "max_length", None),
        ]
        for body, attr, code, detail in cases:
            response = await upsert(client, tenant, body)
            assert response.status_code == 400, body
            assert response.json()["attr"] == attr, (body, response.json())
            assert response.json()["code"] == code, (body, response.json())
            if detail:
                assert response.json()["detail"] == detail


class TestBulk:
    async def test_ten_thousand_in_one_request(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        persons: list[dict[str, Any]] = [
            {
                "distinct_id": f"user-{i:05d}",
                "properties": {"email": f"user-{i:05d}@example.com", "plan": "pro", "n": i},
            }
            for i in range(10_000)
        ]
        started = time.perf_counter()
        response = await upsert(client, tenant, {"persons": persons})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        assert response.json() == {"upserted": 10_000}
        assert elapsed < 30, f"10,000 upserts took {elapsed:.1f}s"
        listed = await client.get(persons_url(tenant), params={"limit": 1}, headers=auth(tenant))
        assert listed.json()["count"] == 10_000
        # The same request again updates in place: still 10,000 persons.
        persons[0]["properties"]["plan"] = "free"
        again = await upsert(client, tenant, {"persons": persons})
        assert again.json() == {"upserted": 10_000}
        one = await client.get(persons_url(tenant), params={"distinct_id": "user-00000"}, headers=auth(tenant))
        assert one.json()["results"][0]["properties"]["plan"] == "free"
        listed = await client.get(persons_url(tenant), params={"limit": 1}, headers=auth(tenant))
        assert listed.json()["count"] == 10_000

    async def test_repeats_merge(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        body = {
            "persons": [
                {"distinct_id": "x", "properties": {"a": 1}},
                {"distinct_id": "x", "properties": {"b": 2}, "properties_set_once": {"a": 0, "c": 3}},
            ]
        }
        assert (await upsert(client, tenant, body)).json() == {"upserted": 1}
        found = await client.get(persons_url(tenant), params={"distinct_id": "x"}, headers=auth(tenant))
        assert found.json()["results"][0]["properties"] == {"a": 1, "b": 2, "c": 3}

    async def test_bulk_limit(self, app: object, client: httpx.AsyncClient, tenant: Tenant) -> None:
        settings = app.state.settings  # type: ignore[attr-defined]
        previous = settings.persons_bulk_max
        settings.persons_bulk_max = 3
        try:
            response = await upsert(client, tenant, {"persons": [{"distinct_id": str(i)} for i in range(4)]})
        finally:
            settings.persons_bulk_max = previous
        assert response.status_code == 400
        assert response.json()["detail"] == "Ensure this field has no more than 3 elements."
        assert response.json()["attr"] == "persons"


class TestRead:
    async def test_list_newest_first_with_filters(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await upsert(client, tenant, {"distinct_id": "alpha", "properties": {"name": "Alice Liddell"}})
        await upsert(client, tenant, {"distinct_id": "beta", "properties": {"email": "bob@wonder.land"}})
        await upsert(client, tenant, {"distinct_id": "gamma_1", "properties": {}})
        listed = (await client.get(persons_url(tenant), headers=auth(tenant))).json()
        assert listed["count"] == 3
        assert [p["distinct_ids"] for p in listed["results"]] == [["gamma_1"], ["beta"], ["alpha"]]

        async def search(term: str) -> list[str]:
            response = await client.get(persons_url(tenant), params={"search": term}, headers=auth(tenant))
            return [p["distinct_ids"][0] for p in response.json()["results"]]

        assert await search("ALICE") == ["alpha"]
        assert await search("wonder") == ["beta"]
        assert await search("a_1") == ["gamma_1"]
        assert await search("%") == []
        by_id = await client.get(persons_url(tenant), params={"distinct_id": "beta"}, headers=auth(tenant))
        assert [p["distinct_ids"] for p in by_id.json()["results"]] == [["beta"]]

    async def test_pagination(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await upsert(client, tenant, {"persons": [{"distinct_id": f"p{i}"} for i in range(5)]})
        page = (await client.get(persons_url(tenant), params={"limit": 2, "offset": 2}, headers=auth(tenant))).json()
        assert page["count"] == 5
        assert len(page["results"]) == 2
        assert "offset=4" in page["next"]
        assert page["previous"] is not None

    async def test_retrieve(self, client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory) -> None:
        person = (await upsert(client, tenant, {"distinct_id": "solo"})).json()
        response = await client.get(f"{persons_url(tenant)}{person['id']}/", headers=auth(tenant))
        assert response.status_code == 200
        assert response.json() == person
        for missing in (str(uuid.uuid4()), "nope"):
            assert (await client.get(f"{persons_url(tenant)}{missing}/", headers=auth(tenant))).status_code == 404
        other = await make_tenant(email=tenant.email)
        assert (await client.get(f"{persons_url(other)}{person['id']}/", headers=auth(tenant))).status_code == 404


async def test_scopes(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    owner = await make_tenant()
    reader = await make_tenant(email=owner.email, scopes=["person:read"])
    headers = {"Authorization": f"Bearer {reader.api_key}"}
    assert (await client.get(persons_url(owner), headers=headers)).status_code == 200
    response = await client.post(persons_url(owner), json={"distinct_id": "x"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["detail"] == "API key missing required scope 'person:write'"
    flows_only = await make_tenant(email=owner.email, scopes=["hog_flow:write"])
    response = await client.get(persons_url(owner), headers={"Authorization": f"Bearer {flows_only.api_key}"})
    assert response.json()["detail"] == "API key missing required scope 'person:read'"
