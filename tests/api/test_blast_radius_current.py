"""`user_blast_radius` as PostHog answers it now: `limit`, `dedupe_key`, feature-flag conditions refused."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.batch_helpers import person_filter, upsert_persons
from tests.api.helpers import auth, flows_url

FLAG_CONDITION = "Feature flags can't be used as a batch audience condition. Use person properties or cohorts instead."

PERSONS: list[dict[str, Any]] = [
    {"distinct_id": "a", "properties": {"plan": "pro", "email": "Ann@acme.com"}},
    {"distinct_id": "b", "properties": {"plan": "pro", "email": " ann@ACME.com "}},  # the same inbox
    {"distinct_id": "c", "properties": {"plan": "pro", "email": "cat@acme.com"}},
    {"distinct_id": "d", "properties": {"plan": "pro"}},
    {"distinct_id": "e", "properties": {"plan": "pro", "email": ""}},
    {"distinct_id": "f", "properties": {"plan": "free", "email": "fay@acme.com"}},
]
PRO = {"properties": [person_filter("plan", "pro")]}


async def blast(client: httpx.AsyncClient, tenant: Tenant, body: Any) -> httpx.Response:
    return await client.post(f"{flows_url(tenant)}user_blast_radius/", json=body, headers=auth(tenant))


@pytest.fixture
async def people(client: httpx.AsyncClient, tenant: Tenant) -> Tenant:
    await upsert_persons(client, tenant, PERSONS)
    return tenant


async def test_dedupe_by_email_counts_sends(client: httpx.AsyncClient, people: Tenant) -> None:
    plain = await blast(client, people, {"filters": PRO})
    assert (plain.json()["affected"], plain.json()["dedupe_key"], plain.json()["without_email"]) == (5, None, None)
    response = await blast(client, people, {"filters": PRO, "dedupe_key": "email"})
    assert response.status_code == 200, response.text
    # ann (twice, one send), cat, and the two persons without an email.
    assert response.json() == {
        "affected": 4,
        "total": 6,
        "limit": None,
        "dedupe_key": "email",
        "without_email": 2,
        "confirm_token": None,
    }
    explicit_null = await blast(client, people, {"filters": PRO, "dedupe_key": None})
    assert explicit_null.json()["affected"] == 5


@pytest.mark.parametrize("key", ["phone", "", 3, ["email"]])
async def test_unsupported_dedupe_key(client: httpx.AsyncClient, tenant: Tenant, key: Any) -> None:
    response = await blast(client, tenant, {"filters": PRO, "dedupe_key": key})
    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": "invalid_choice",
        "detail": f'"{key}" is not a valid choice.',
        "attr": "dedupe_key",
    }


@pytest.mark.parametrize(
    "properties",
    [
        [{"key": "beta-feature", "type": "flag", "value": True, "operator": "flag_evaluates_to"}],
        [person_filter("plan", "pro"), {"type": "OR", "values": [{"key": "x", "type": "flag", "value": True}]}],
    ],
)
async def test_feature_flag_conditions_are_refused(client: httpx.AsyncClient, tenant: Tenant, properties: Any) -> None:
    response = await blast(client, tenant, {"filters": {"properties": properties}})
    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "code": "invalid_input",
        "detail": FLAG_CONDITION,
        "attr": "filters",
    }


async def test_missing_filters_points_at_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await blast(client, tenant, {"dedupe_key": "email"})
    assert response.status_code == 400
    assert (response.json()["attr"], response.json()["detail"]) == (
        "filters",
        "Missing filters for which to get blast radius",
    )


@pytest.fixture
def audience_cap(app: Any) -> Iterator[int]:
    settings = app.state.settings
    before = settings.batch_max_audience_size
    settings.batch_max_audience_size = 250
    yield 250
    settings.batch_max_audience_size = before


async def test_limit_is_the_batch_audience_cap(client: httpx.AsyncClient, people: Tenant, audience_cap: int) -> None:
    response = await blast(client, people, {"filters": PRO})
    assert response.json()["limit"] == audience_cap
