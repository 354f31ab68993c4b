"""Secret inputs (`secret: true` in the template's inputs_schema): sealed at rest, masked on every read,
kept on update."""

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.crypto import DEFAULT_SECRET_KEY, SecretBox, is_sealed
from app.db.models import HogFlow, HogFlowRevision
from app.db.session import create_sessionmaker, session_scope
from app.main import create_app
from app.services.bootstrap import Tenant, bootstrap_tenant
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import create_flow, webhook_flow
from tests.api.migration_helpers import migrate, own_database

MASK = {"secret": True}
SECRET = {"value": "Bearer s3cret"}
# The test app runs with the default key (`Settings()`).
BOX = SecretBox([DEFAULT_SECRET_KEY])


async def stored_inputs(sessionmaker: async_sessionmaker[AsyncSession], flow_id: str) -> dict[str, Any]:
    """The stored inputs of the trigger, each sealed one opened with the app's key."""
    async with session_scope(sessionmaker) as session:
        flow = await session.get(HogFlow, uuid.UUID(flow_id))
        assert flow is not None
        return dict(BOX.open_inputs(flow.actions[0]["config"]["inputs"]))


async def raw_rows(sessionmaker: async_sessionmaker[AsyncSession], flow_id: str) -> str:
    """Every stored text of the flow (row, draft, revisions) and the activity log, as the database holds them."""
    by_id = bindparam("id", uuid.UUID(flow_id), type_=Uuid)
    flow_sql = "SELECT CAST(actions AS TEXT), CAST(trigger AS TEXT), CAST(draft AS TEXT) FROM hog_flows WHERE id = :id"
    revisions_sql = "SELECT CAST(content AS TEXT) FROM hog_flow_revisions WHERE hog_flow_id = :id"
    async with session_scope(sessionmaker) as session:
        flow_row = (await session.execute(text(flow_sql).bindparams(by_id))).one()
        revisions = (await session.execute(text(revisions_sql).bindparams(by_id))).scalars()
        activity = (await session.execute(text("SELECT CAST(detail AS TEXT) FROM activity_logs"))).scalars()
        texts = [*flow_row, *revisions, *activity]
    return "\n".join(value or "" for value in texts)


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
    assert "s3cret" not in await raw_rows(sessionmaker, flow_id)
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


@pytest.mark.postgres_only
async def test_the_stored_rows_hold_ciphertext_only(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({"auth_header": SECRET, "debug": {"value": True}}))
    url = f"{flows_url(tenant)}{flow_id}/"
    actions = (await client.get(url, headers=auth(tenant))).json()["actions"]
    # A live edit (two revisions) and a staged draft: every copy of the content is written.
    actions[0]["name"] = "renamed"
    assert (await client.patch(url, json={"actions": actions}, headers=auth(tenant))).status_code == 200
    actions[0]["name"] = "staged"
    staged = await client.patch(url, json={"actions": actions, "stage_draft": True}, headers=auth(tenant))
    assert staged.status_code == 200, staged.text
    stored = await raw_rows(sessionmaker, flow_id)
    assert "s3cret" not in stored and "$fernet" in stored
    async with session_scope(sessionmaker) as session:
        flow = await session.get(HogFlow, uuid.UUID(flow_id))
        assert flow is not None and flow.draft is not None
        for inputs in (flow.actions[0]["config"]["inputs"], flow.trigger["inputs"], flow.draft["trigger"]["inputs"]):
            assert is_sealed(inputs["auth_header"])
            assert BOX.open_json(inputs["auth_header"])["value"] == "Bearer s3cret"
            # Only the secret is sealed: the other inputs stay readable.
            assert inputs["debug"]["value"] is True


async def test_a_save_that_changes_nothing_keeps_the_ciphertext_and_the_version(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({"auth_header": SECRET}))
    url = f"{flows_url(tenant)}{flow_id}/"
    read = (await client.get(url, headers=auth(tenant))).json()
    async with session_scope(sessionmaker) as session:
        before = (await session.get(HogFlow, uuid.UUID(flow_id))).actions  # type: ignore[union-attr]
    response = await client.patch(url, json={"actions": read["actions"]}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    assert response.json()["version"] == read["version"]
    async with session_scope(sessionmaker) as session:
        after = (await session.get(HogFlow, uuid.UUID(flow_id))).actions  # type: ignore[union-attr]
    assert after == before


async def test_a_rotated_key_list_still_opens_secrets_sealed_with_the_old_key(
    database_url: str, client: httpx.AsyncClient, tenant: Tenant
) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({"auth_header": SECRET}))
    # A new key first, the old one second: secrets written before the rotation still open.
    rotated = Settings(
        DATABASE_URL=database_url, REDIS_URL=None, HOGFLOWS_SECRET_KEY=f"a-brand-new-key,{DEFAULT_SECRET_KEY}"
    )
    application = create_app(rotated)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as rotated_client:
            hook = f"/public/webhooks/{flow_id}"
            body = {"event": "e", "distinct_id": "d"}
            ok = await rotated_client.post(hook, json=body, headers={"Authorization": "Bearer s3cret"})
            assert ok.status_code == 200, ok.text
            refused = await rotated_client.post(hook, json=body, headers={"Authorization": "Bearer nope"})
            assert refused.status_code == 401
    # Without the old key the secret cannot open: the request fails (400), it never passes unchecked.
    lost = Settings(DATABASE_URL=database_url, REDIS_URL=None, HOGFLOWS_SECRET_KEY="a-brand-new-key")
    application = create_app(lost)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as lost_client:
            response = await lost_client.post(
                f"/public/webhooks/{flow_id}", json={"event": "e", "distinct_id": "d"}, headers={"Authorization": "x"}
            )
            assert response.status_code == 400, response.text
            assert "s3cret" not in response.text


BEFORE_ENCRYPTION = "95439483ed35"


async def test_the_migration_seals_plain_secret_inputs_and_its_downgrade_opens_them(
    database_url: str, tmp_path: Path
) -> None:
    async with own_database(database_url, tmp_path, "hogflows_secret_inputs") as engine:
        await migrate(engine, BEFORE_ENCRYPTION)
        # Rows as they were written before encryption: the secret in clear in every copy of the content.
        plain = webhook_flow({"auth_header": SECRET, "debug": {"value": True}})
        content = {"actions": plain["actions"], "trigger": plain["actions"][0]["config"], "edges": plain["edges"]}
        sessionmaker = create_sessionmaker(engine)
        async with session_scope(sessionmaker) as session:
            tenant = await bootstrap_tenant(session)
            flow = HogFlow(team_id=tenant.team_id, name="old", status="active", draft=content, **content)
            session.add(flow)
            await session.flush()
            session.add(HogFlowRevision(team_id=tenant.team_id, hog_flow_id=flow.id, version=1, content=content))
            flow_id = str(flow.id)
        assert "s3cret" in await raw_rows(sessionmaker, flow_id)

        await migrate(engine, "head")
        assert "s3cret" not in await raw_rows(sessionmaker, flow_id)
        async with session_scope(sessionmaker) as session:
            stored = await session.get(HogFlow, uuid.UUID(flow_id))
            assert stored is not None and stored.draft is not None
            revision = (await session.execute(text("SELECT content FROM hog_flow_revisions"))).scalar_one()
            revision = json.loads(revision) if isinstance(revision, str) else revision
            for inputs in (
                stored.actions[0]["config"]["inputs"],
                stored.trigger["inputs"],
                stored.draft["actions"][0]["config"]["inputs"],
                revision["actions"][0]["config"]["inputs"],
            ):
                assert BOX.open_inputs(inputs) == {"auth_header": SECRET, "debug": {"value": True}}

        await migrate(engine, BEFORE_ENCRYPTION)
        async with session_scope(sessionmaker) as session:
            reopened = await session.get(HogFlow, uuid.UUID(flow_id))
            assert reopened is not None
            assert reopened.actions[0]["config"]["inputs"]["auth_header"] == SECRET


async def test_a_forged_sealed_value_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    forged = webhook_flow({"auth_header": {"$fernet": "not-a-token"}})
    response = await client.post(flows_url(tenant), json=forged, headers=auth(tenant))
    assert response.status_code == 400, response.text
    assert response.json()["attr"] == "actions__0__inputs__auth_header"
