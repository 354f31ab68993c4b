"""`GET {p}/activity_log/?scope=HogFlow&item_id=…` and `GET {p}/hog_flows/metrics/global/`."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlowBatchJob
from app.db.repositories.observability import ObservabilityRepository
from app.db.session import session_scope
from app.engine.records import MetricRecord
from app.services.bootstrap import Tenant
from tests.api.batch_helpers import batch_flow, create_flow
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import webhook_flow
from tests.conftest import TenantFactory


def activity_url(tenant: Tenant) -> str:
    return f"/api/environments/{tenant.team_id}/activity_log/"


async def activity(client: httpx.AsyncClient, tenant: Tenant, **params: Any) -> dict[str, Any]:
    response = await client.get(activity_url(tenant), params=params, headers=auth(tenant))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestActivityLog:
    async def test_created_updated_deleted_with_the_changed_fields(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow_id = await create_flow(client, tenant, batch_flow(status="draft"))
        url = f"{flows_url(tenant)}{flow_id}/"
        patched = await client.patch(url, json={"name": "renamed", "description": "why"}, headers=auth(tenant))
        assert patched.status_code == 200
        # Nothing tracked changes: no entry.
        assert (await client.patch(url, json={"name": "renamed"}, headers=auth(tenant))).status_code == 200
        assert (await client.delete(url, headers=auth(tenant))).status_code == 204

        page = await activity(client, tenant, scope="HogFlow", item_id=flow_id)
        assert page["next"] is None and page["previous"] is None
        deleted, updated, created = page["results"]
        assert [entry["activity"] for entry in page["results"]] == ["deleted", "updated", "created"]
        for entry in page["results"]:
            assert (entry["scope"], entry["item_id"]) == ("HogFlow", flow_id)
            assert entry["user"]["id"] == tenant.user_id
            assert entry["created_at"].endswith("Z")
            assert set(entry["detail"]) == {"id", "changes", "merge", "trigger", "name", "short_id", "type", "context"}
        assert created["detail"]["changes"] is None and created["detail"]["name"] == "to everyone"
        assert deleted["detail"]["changes"] is None and deleted["detail"]["name"] == "renamed"
        assert updated["detail"]["name"] == "renamed"
        assert updated["detail"]["changes"] == [
            {"type": "HogFlow", "action": "changed", "field": "name", "before": "to everyone", "after": "renamed"},
            {"type": "HogFlow", "action": "changed", "field": "description", "before": "", "after": "why"},
        ]

    async def test_status_and_graph_changes_and_secrets_stay_masked(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow_id = await create_flow(client, tenant, webhook_flow({"auth_header": {"value": "Bearer s3cret"}}))
        url = f"{flows_url(tenant)}{flow_id}/"
        replaced = webhook_flow({"auth_header": {"value": "Bearer n3w"}}, status="archived")
        assert (await client.put(url, json=replaced, headers=auth(tenant))).status_code == 200
        response = await client.get(activity_url(tenant), params={"item_id": flow_id}, headers=auth(tenant))
        assert "s3cret" not in response.text and "n3w" not in response.text
        updated = response.json()["results"][0]
        fields = {change["field"]: change for change in updated["detail"]["changes"]}
        assert (fields["status"]["before"], fields["status"]["after"]) == ("active", "archived")
        # The secret changed, but both sides read as the mask.
        actions_change = fields.get("actions")
        if actions_change is not None:
            assert actions_change["after"][0]["config"]["inputs"]["auth_header"] == {"secret": True}

    async def test_pages_with_a_cursor_and_is_scoped_to_the_team(
        self, client: httpx.AsyncClient, tenant: Tenant, make_tenant: TenantFactory
    ) -> None:
        flow_id = await create_flow(client, tenant, batch_flow(status="draft"))
        for index in range(4):
            response = await client.patch(
                f"{flows_url(tenant)}{flow_id}/", json={"name": f"v{index}"}, headers=auth(tenant)
            )
            assert response.status_code == 200
        first = await activity(client, tenant, item_id=flow_id, page_size=2)
        assert [entry["detail"]["name"] for entry in first["results"]] == ["v3", "v2"]
        assert first["next"] is not None
        second = (await client.get(first["next"], headers=auth(tenant))).json()
        third = (await client.get(second["next"], headers=auth(tenant))).json()
        assert [entry["detail"]["name"] for entry in second["results"]] == ["v1", "v0"]
        assert [entry["activity"] for entry in third["results"]] == ["created"] and third["next"] is None
        other = await make_tenant()
        assert (await activity(client, other, item_id=flow_id))["results"] == []
        bad = await client.get(activity_url(tenant), params={"cursor": "!!"}, headers=auth(tenant))
        assert (bad.status_code, bad.json()["attr"]) == (400, "cursor")

    async def test_needs_the_activity_log_read_scope(
        self, client: httpx.AsyncClient, make_tenant: TenantFactory
    ) -> None:
        limited = await make_tenant(scopes=["hog_flow:read"])
        response = await client.get(activity_url(limited), headers=auth(limited))
        assert response.status_code == 403
        assert response.json()["detail"] == "API key missing required scope 'activity_log:read'"


class TestGlobalMetrics:
    async def test_succeeded_and_failed_per_flow_most_failing_first(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        calm = await create_flow(client, tenant, batch_flow(status="draft"))
        noisy = await create_flow(client, tenant, batch_flow(status="draft"))
        gone = await create_flow(client, tenant, batch_flow(status="draft"))
        now = datetime.now(UTC)
        async with session_scope(sessionmaker) as session:
            job = HogFlowBatchJob(team_id=tenant.team_id, hog_flow_id=uuid.UUID(noisy), status="completed")
            session.add(job)
            await session.flush()
            records = [
                MetricRecord(tenant.team_id, calm, "a", "success", "succeeded", now - timedelta(hours=1), 5),
                MetricRecord(tenant.team_id, noisy, "a", "failure", "failed", now - timedelta(hours=2), 2),
                MetricRecord(tenant.team_id, str(job.id), "a", "failure", "failed", now - timedelta(hours=2), 3),
                MetricRecord(tenant.team_id, noisy, "a", "success", "succeeded", now - timedelta(days=10), 7),
                MetricRecord(tenant.team_id, gone, "a", "failure", "failed", now - timedelta(hours=1), 9),
                MetricRecord(tenant.team_id, calm, "a", "other", "filtered", now - timedelta(hours=1), 4),
            ]
            await ObservabilityRepository(session).add_metrics(records)
        assert (await client.delete(f"{flows_url(tenant)}{gone}/", headers=auth(tenant))).status_code == 204
        url = f"{flows_url(tenant)}metrics/global/"
        response = await client.get(url, headers=auth(tenant))
        assert response.status_code == 200, response.text
        assert response.json() == [
            {"workflow_id": noisy, "succeeded": 0, "failed": 5},
            {"workflow_id": calm, "succeeded": 5, "failed": 0},
        ]
        wider = (await client.get(url, params={"after": "-30d"}, headers=auth(tenant))).json()
        assert wider[0] == {"workflow_id": noisy, "succeeded": 7, "failed": 5}
        narrow = (await client.get(url, params={"after": "-30d", "before": "-5d"}, headers=auth(tenant))).json()
        assert narrow == [{"workflow_id": noisy, "succeeded": 7, "failed": 0}]
        bad = await client.get(url, params={"after": "yesterday-ish"}, headers=auth(tenant))
        assert (bad.status_code, bad.json()["attr"]) == (400, "after")
