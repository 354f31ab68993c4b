"""Personal API keys, scopes and tenant isolation (spec/api.md §9)."""

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import User
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, create_schedule_flow, flow_payload, flows_url, trigger_action
from tests.conftest import TenantFactory

SCHEDULE_FLOW = flow_payload(actions=[trigger_action({"type": "schedule"})], edges=[])


class TestAuthentication:
    async def test_no_credentials(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await client.get(flows_url(tenant))
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json() == {
            "type": "authentication_error",
            "code": "not_authenticated",
            "detail": "Authentication credentials were not provided.",
            "attr": None,
        }

    async def test_unknown_key(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await client.get(flows_url(tenant), headers={"Authorization": "Bearer phx_nope"})
        assert response.status_code == 401
        assert response.json() == {
            "type": "authentication_error",
            "code": "authentication_failed",
            "detail": "Personal API key found in request Authorization header is invalid.",
            "attr": None,
        }

    async def test_key_in_query_string(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await client.get(flows_url(tenant), params={"personal_api_key": tenant.api_key})
        assert response.status_code == 200
        response = await client.get(flows_url(tenant), params={"personal_api_key": "phx_wrong"})
        assert response.status_code == 401
        assert response.json()["detail"] == "Personal API key found in request query string is invalid."

    async def test_key_in_body(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await client.post(flows_url(tenant), json={**SCHEDULE_FLOW, "personal_api_key": tenant.api_key})
        assert response.status_code == 201, response.text

    async def test_inactive_user(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with session_scope(sessionmaker) as session:
            await session.execute(update(User).where(User.id == tenant.user_id).values(is_active=False))
        response = await client.get(flows_url(tenant), headers=auth(tenant))
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"


class TestScopes:
    async def test_read_scope_reads_but_cannot_write(
        self, client: httpx.AsyncClient, make_tenant: TenantFactory
    ) -> None:
        tenant = await make_tenant(scopes=["hog_flow:read"])
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).status_code == 200
        response = await client.post(flows_url(tenant), json=SCHEDULE_FLOW, headers=auth(tenant))
        assert response.status_code == 403
        assert response.json() == {
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": "API key missing required scope 'hog_flow:write'",
            "attr": None,
        }
        listed = await client.get(flows_url(tenant), headers=auth(tenant))
        assert listed.json()["count"] == 0

    async def test_write_scope_implies_read(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        tenant = await make_tenant(scopes=["hog_flow:write"])
        flow_id = await create_schedule_flow(client, tenant)
        response = await client.get(f"{flows_url(tenant)}{flow_id}/", headers=auth(tenant))
        assert response.status_code == 200

    async def test_unrelated_scope(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        tenant = await make_tenant(scopes=["feature_flag:write"])
        response = await client.get(flows_url(tenant), headers=auth(tenant))
        assert response.status_code == 403
        assert response.json()["detail"] == "API key missing required scope 'hog_flow:read'"

    async def test_legacy_key_without_scopes(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        tenant = await make_tenant(scopes=None)
        await create_schedule_flow(client, tenant)

    async def test_scoped_teams(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        tenant = await make_tenant(scoped_teams=[999_999])
        response = await client.get(flows_url(tenant), headers=auth(tenant))
        assert response.status_code == 403
        assert response.json()["detail"] == (
            f"API key does not have access to the requested project: ID {tenant.team_id}."
        )

    async def test_scoped_organizations(self, client: httpx.AsyncClient, make_tenant: TenantFactory) -> None:
        tenant = await make_tenant(scoped_organizations=["00000000-0000-0000-0000-000000000000"])
        response = await client.get(flows_url(tenant), headers=auth(tenant))
        assert response.status_code == 403
        assert response.json()["detail"] == (
            f"API key does not have access to the requested organization: ID {tenant.organization_id}."
        )


class TestTenantIsolation:
    async def test_other_organization_gets_403_and_changes_nothing(
        self, client: httpx.AsyncClient, make_tenant: TenantFactory
    ) -> None:
        owner = await make_tenant()
        intruder = await make_tenant()
        flow_id = await create_schedule_flow(client, owner)
        flow_url = f"{flows_url(owner)}{flow_id}/"
        denied = {
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": "You don't have access to the project.",
            "attr": None,
        }
        for method, url, body in [
            ("GET", flows_url(owner), None),
            ("POST", flows_url(owner), SCHEDULE_FLOW),
            ("GET", flow_url, None),
            ("PATCH", flow_url, {"name": "hijacked"}),
            ("PUT", flow_url, {**SCHEDULE_FLOW, "name": "hijacked"}),
            ("DELETE", flow_url, None),
        ]:
            response = await client.request(method, url, json=body, headers=auth(intruder))
            assert response.status_code == 403, (method, url, response.text)
            assert response.json() == denied
        flow = (await client.get(flow_url, headers=auth(owner))).json()
        assert flow["name"] == "Test Flow"
        assert (await client.get(flows_url(owner), headers=auth(owner))).json()["count"] == 1

    async def test_flow_of_another_team_is_not_found_under_own_team(
        self, client: httpx.AsyncClient, make_tenant: TenantFactory
    ) -> None:
        owner = await make_tenant()
        other = await make_tenant()
        flow_id = await create_schedule_flow(client, owner)
        response = await client.get(f"{flows_url(other)}{flow_id}/", headers=auth(other))
        assert response.status_code == 404
        response = await client.delete(f"{flows_url(other)}{flow_id}/", headers=auth(other))
        assert response.status_code == 404
        assert (await client.get(f"{flows_url(owner)}{flow_id}/", headers=auth(owner))).status_code == 200


class TestTeamInUrl:
    async def test_unknown_and_malformed_team(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        for team in ("999999", "abc", "-1", "1.5"):
            response = await client.get(f"/api/environments/{team}/hog_flows/", headers=auth(tenant))
            assert response.status_code == 404
            assert response.json() == {
                "type": "invalid_request",
                "code": "not_found",
                "detail": "Project not found.",
                "attr": None,
            }

    async def test_current_team_and_both_prefixes(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow_id = await create_schedule_flow(client, tenant)
        for url in (
            "/api/environments/@current/hog_flows/",
            f"/api/projects/{tenant.team_id}/hog_flows/",
            "/api/projects/@current/hog_flows",
        ):
            response = await client.get(url, headers=auth(tenant))
            assert response.status_code == 200, url
            assert [flow["id"] for flow in response.json()["results"]] == [flow_id]
