"""`{p}/integrations/`: create, list, retrieve, delete; the sensitive config is never returned."""

from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.helpers import SLACK, auth, integrations_url
from tests.conftest import TenantFactory


async def create(client: httpx.AsyncClient, tenant: Tenant, payload: dict[str, Any] = SLACK) -> dict[str, Any]:
    response = await client.post(integrations_url(tenant), json=payload, headers=auth(tenant))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_list_retrieve_delete_never_echo_the_sensitive_config(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = await create(client, tenant)
    assert created["kind"] == "slack"
    assert created["integration_id"] == "T123"
    assert created["config"] == {"team": {"id": "T123", "name": "Acme"}}
    assert created["display_name"] == "Acme"
    assert created["errors"] == ""
    assert created["created_by"]["id"] == tenant.user_id
    assert isinstance(created["id"], int)

    url = f"{integrations_url(tenant)}{created['id']}/"
    listed = (await client.get(integrations_url(tenant), headers=auth(tenant))).json()
    retrieved = (await client.get(url, headers=auth(tenant))).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == created["id"]
    for body in (created, listed, retrieved):
        assert "sensitive_config" not in str(body)
        assert "xoxb-very-secret" not in str(body)

    assert (await client.delete(url, headers=auth(tenant))).status_code == 204
    assert (await client.get(url, headers=auth(tenant))).status_code == 404


async def test_kind_filter_and_validation(client: httpx.AsyncClient, tenant: Tenant) -> None:
    await create(client, tenant)
    twilio = await create(
        client,
        tenant,
        {"kind": "twilio", "config": {"account_sid": "AC1"}, "sensitive_config": {"auth_token": "t"}},
    )
    assert twilio["display_name"] == "AC1"
    listed = (await client.get(integrations_url(tenant), params={"kind": "twilio"}, headers=auth(tenant))).json()
    assert [item["kind"] for item in listed["results"]] == ["twilio"]

    response = await client.post(integrations_url(tenant), json={"kind": "nope"}, headers=auth(tenant))
    assert response.status_code == 400
    assert response.json()["attr"] == "kind"
    assert response.json()["code"] == "invalid_choice"


async def test_another_teams_integration_is_not_found(
    client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
) -> None:
    created = await create(client, tenant)
    other = await make_tenant()
    # The other team's URL with its own key: the integration is not there.
    url = f"{integrations_url(other)}{created['id']}/"
    assert (await client.get(url, headers=auth(other))).status_code == 404
    assert (await client.delete(url, headers=auth(other))).status_code == 404
    # Our team's URL with the other team's key: no access to the project.
    mine = f"{integrations_url(tenant)}{created['id']}/"
    assert (await client.get(mine, headers=auth(other))).status_code == 403
    assert (await client.get(f"{integrations_url(tenant)}abc/", headers=auth(tenant))).status_code == 404


async def test_scopes(client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
    reader = await make_tenant(scopes=["integration:read"])
    assert (await client.get(integrations_url(reader), headers=auth(reader))).status_code == 200
    response = await client.post(integrations_url(reader), json=SLACK, headers=auth(reader))
    assert response.status_code == 403
    assert response.json()["detail"] == "API key missing required scope 'integration:write'"
    flows_only = await make_tenant(scopes=["hog_flow:write"])
    assert (await client.get(integrations_url(flows_only), headers=auth(flows_only))).status_code == 403
