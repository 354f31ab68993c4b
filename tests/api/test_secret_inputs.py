"""Secret inputs (`secret: true` in the template's inputs_schema): masked on every read, kept on update."""

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlow
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import create_flow, webhook_flow

MASK = {"secret": True}
SECRET = {"value": "Bearer s3cret"}


async def stored_inputs(sessionmaker: async_sessionmaker[AsyncSession], flow_id: str) -> dict[str, Any]:
    async with session_scope(sessionmaker) as session:
        flow = await session.get(HogFlow, uuid.UUID(flow_id))
        assert flow is not None
        return dict(flow.actions[0]["config"]["inputs"])


def trigger_inputs(flow: dict[str, Any]) -> dict[str, Any]:
    return dict(flow["actions"][0]["config"]["inputs"])


async def test_masked_in_create_detail_and_list(client: httpx.AsyncClient, tenant: Tenant) -> None:
    created = await client.post(
        flows_url(tenant), json=webhook_flow({"auth_header": SECRET, "debug": {"value": True}}), headers=auth(tenant)
    )
    assert created.status_code == 201, created.text
    flow = created.json()
    # The secret is masked in the actions and in the derived trigger; other inputs are shown.
    assert trigger_inputs(flow)["auth_header"] == MASK
    assert flow["trigger"]["inputs"]["auth_header"] == MASK
    assert trigger_inputs(flow)["debug"]["value"] is True
    detail = (await client.get(f"{flows_url(tenant)}{flow['id']}/", headers=auth(tenant))).json()
    assert trigger_inputs(detail)["auth_header"] == MASK
    assert detail["trigger"]["inputs"]["auth_header"] == MASK
    listed = (await client.get(flows_url(tenant), headers=auth(tenant))).json()["results"]
    (row,) = [row for row in listed if row["id"] == flow["id"]]
    assert trigger_inputs(row)["auth_header"] == MASK
    assert row["trigger"]["inputs"]["auth_header"] == MASK
    assert "s3cret" not in (await client.get(flows_url(tenant), headers=auth(tenant))).text


async def test_an_unset_secret_is_not_masked(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({}))
    detail = (await client.get(f"{flows_url(tenant)}{flow_id}/", headers=auth(tenant))).json()
    assert "auth_header" not in trigger_inputs(detail)


async def test_the_mask_sent_back_keeps_the_stored_secret(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({"auth_header": SECRET}))
    url = f"{flows_url(tenant)}{flow_id}/"
    read = (await client.get(url, headers=auth(tenant))).json()
    # A client edits the name of the step and sends back what it read, mask included.
    actions = read["actions"]
    actions[0]["name"] = "renamed"
    response = await client.patch(url, json={"actions": actions}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    assert trigger_inputs(response.json())["auth_header"] == MASK
    assert (await stored_inputs(sessionmaker, flow_id))["auth_header"]["value"] == "Bearer s3cret"
    # The secret still works: the webhook accepts the stored header.
    hook = f"/public/webhooks/{flow_id}"
    body = {"event": "e", "distinct_id": "d"}
    assert (await client.post(hook, json=body, headers={"Authorization": "Bearer s3cret"})).status_code == 200
    assert (await client.post(hook, json=body, headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_a_new_value_replaces_the_secret(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({"auth_header": SECRET}))
    response = await client.put(
        f"{flows_url(tenant)}{flow_id}/",
        json=webhook_flow({"auth_header": {"value": "Bearer new"}}),
        headers=auth(tenant),
    )
    assert response.status_code == 200, response.text
    assert (await stored_inputs(sessionmaker, flow_id))["auth_header"]["value"] == "Bearer new"


async def test_a_mask_with_nothing_stored_is_dropped_not_stored(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # A mask on a new step (or one whose secret was never set) must never become the stored value.
    created = await client.post(flows_url(tenant), json=webhook_flow({"auth_header": MASK}), headers=auth(tenant))
    assert created.status_code == 201, created.text
    assert "auth_header" not in await stored_inputs(sessionmaker, created.json()["id"])


async def test_revisions_and_drafts_never_show_the_secret(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({"auth_header": SECRET}))
    url = f"{flows_url(tenant)}{flow_id}/"
    read = (await client.get(url, headers=auth(tenant))).json()
    actions = read["actions"]
    actions[0]["name"] = "renamed"
    assert (await client.patch(url, json={"actions": actions}, headers=auth(tenant))).status_code == 200
    for version in (1, 2):
        revision = await client.get(f"{url}revisions/{version}/", headers=auth(tenant))
        assert revision.status_code == 200, revision.text
        assert "s3cret" not in revision.text
        content = revision.json()["content"]
        assert "auth_header" not in content["actions"][0]["config"]["inputs"]
    # A draft staged on the active flow shows the mask, never the value.
    actions[0]["name"] = "staged"
    staged = await client.patch(url, json={"actions": actions, "stage_draft": True}, headers=auth(tenant))
    assert staged.status_code == 200, staged.text
    assert "s3cret" not in staged.text
    assert staged.json()["draft"]["actions"][0]["config"]["inputs"]["auth_header"] == MASK
