"""`GET {p}/hog_function_templates/`: our templates in PostHog's paginated shape."""

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth
from tests.conftest import TenantFactory


def templates_url(tenant: Tenant, prefix: str = "environments") -> str:
    return f"/api/{prefix}/{tenant.team_id}/hog_function_templates/"


@pytest.mark.parametrize("prefix", ["environments", "projects"])
async def test_lists_destinations_in_posthogs_shape(client: httpx.AsyncClient, tenant: Tenant, prefix: str) -> None:
    response = await client.get(templates_url(tenant, prefix), headers=auth(tenant))
    assert response.status_code == 200, response.text
    page = response.json()
    assert set(page) == {"count", "next", "previous", "results"}
    ids = [item["id"] for item in page["results"]]
    assert page["count"] == len(ids)
    for wanted in (
        "template-webhook",
        "template-slack",
        "template-discord",
        "template-microsoft-teams",
        "template-twilio",
        "template-email",
    ):
        assert wanted in ids
    assert "template-source-webhook" not in ids  # destinations unless asked otherwise
    webhook = next(item for item in page["results"] if item["id"] == "template-webhook")
    assert {
        "id",
        "name",
        "description",
        "type",
        "inputs_schema",
        "hog",
        "code",
        "icon_url",
        "category",
        "status",
        "free",
    } <= set(webhook)
    assert webhook["type"] == "destination"
    assert "fetch(inputs.url, payload)" in webhook["hog"]
    assert webhook["code"] == webhook["hog"]
    assert webhook["inputs_schema"][0]["key"] == "url"


async def test_type_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(templates_url(tenant), params={"type": "source_webhook"}, headers=auth(tenant))
    assert {item["id"] for item in response.json()["results"]} == {
        "template-source-webhook",
        "template-source-webhook-pixel",
    }
    response = await client.get(
        templates_url(tenant), params={"types": "destination,source_webhook"}, headers=auth(tenant)
    )
    assert response.json()["count"] == 10
    response = await client.get(templates_url(tenant), params={"type": "nope"}, headers=auth(tenant))
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}


async def test_pagination(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(templates_url(tenant), params={"limit": 2, "offset": 2}, headers=auth(tenant))
    page = response.json()
    assert len(page["results"]) == 2
    assert page["next"].endswith("limit=2&offset=4")
    assert page["previous"].endswith("limit=2")


async def test_retrieve_one(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(f"{templates_url(tenant)}template-slack/", headers=auth(tenant))
    assert response.status_code == 200
    assert response.json()["name"] == "Slack"
    response = await client.get(f"{templates_url(tenant)}template-nope/", headers=auth(tenant))
    assert response.status_code == 404


async def test_scopes(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    for scopes, status in (
        (["hog_function:read"], 200),
        (["hog_function:write"], 200),
        (["*"], 200),
        (None, 200),  # legacy keys without scopes may do anything
        (["hog_flow:read"], 403),
    ):
        tenant = await make_tenant(scopes=scopes)
        response = await client.get(templates_url(tenant), headers=auth(tenant))
        assert response.status_code == status, (scopes, response.text)
        if status == 403:
            assert response.json()["detail"] == "API key missing required scope 'hog_function:read'"


async def test_needs_authentication_and_access_to_the_team(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    assert (await client.get(templates_url(tenant))).status_code == 401
    other = await make_tenant()
    response = await client.get(templates_url(other), headers=auth(tenant))
    assert response.status_code == 403
