"""Create, retrieve, update, delete and the rendered flow object (spec/api.md §2, §4.1)."""

from typing import Any

import httpx

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, exit_action, flow_payload, flows_url, trigger_action

SCHEDULE = trigger_action({"type": "schedule"})


async def create(client: httpx.AsyncClient, tenant: Tenant, **overrides: Any) -> dict[str, Any]:
    response = await client.post(flows_url(tenant), json=flow_payload(**overrides), headers=auth(tenant))
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestCreate:
    async def test_defaults_and_shape(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await client.post(flows_url(tenant), json={"actions": [SCHEDULE]}, headers=auth(tenant))
        assert response.status_code == 201
        flow = response.json()
        assert flow["name"] is None
        assert set(flow) == {
            "id",
            "name",
            "description",
            "version",
            "status",
            "created_at",
            "created_by",
            "updated_at",
            "trigger",
            "trigger_masking",
            "conversion",
            "exit_condition",
            "edges",
            "actions",
            "abort_action",
            "variables",
            "billable_action_types",
            "origin_product",
            "draft",
            "draft_updated_at",
            "schedules",
        }
        assert flow["schedules"] == []
        assert flow["status"] == "draft"
        assert flow["version"] == 1
        assert flow["description"] == ""
        assert flow["exit_condition"] == "exit_on_conversion"
        assert flow["edges"] == {}
        assert flow["abort_action"] is None
        assert flow["variables"] == []
        assert flow["trigger_masking"] is None
        assert flow["conversion"] is None
        assert flow["trigger"] == {"type": "schedule"}
        assert flow["created_at"].endswith("Z") and "." in flow["created_at"]
        assert flow["created_by"]["id"] == tenant.user_id
        assert flow["created_by"]["email"] == tenant.email
        assert set(flow["created_by"]) == {
            "id",
            "uuid",
            "distinct_id",
            "first_name",
            "last_name",
            "email",
            "is_email_verified",
            "hedgehog_config",
            "role_at_organization",
        }

    async def test_actions_rendered_in_full_and_unknown_keys_dropped(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        action = {**exit_action(), "surprise": 1, "created_at": 1700000000000}
        flow = await create(client, tenant, actions=[SCHEDULE, action])
        assert flow["actions"][1] == {
            "id": "exit_node",
            "name": "exit",
            "description": "",
            "on_error": None,
            "filters": None,
            "type": "exit",
            "config": {"reason": "done"},
            "output_variable": None,
            "created_at": 1700000000000,
        }

    async def test_server_computed_fields_ignore_client_values(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        actions = [
            SCHEDULE,
            {"id": "d", "name": "delay", "type": "delay", "config": {"delay_duration": "1h"}},
            {"id": "sms", "name": "sms", "type": "function_sms", "config": {}},
            {"id": "mail", "name": "mail", "type": "function_email", "config": {}},
            {"id": "mail2", "name": "mail again", "type": "function_email", "config": {}},
        ]
        flow = await create(
            client,
            tenant,
            actions=actions,
            trigger={"type": "bogus"},
            billable_action_types=["delay"],
            version=7,
            abort_action="x",
        )
        assert flow["billable_action_types"] == ["function_email", "function_sms"]
        assert flow["trigger"] == {"type": "schedule"}
        assert flow["version"] == 1
        assert flow["abort_action"] is None

    async def test_both_prefixes_create(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await client.post(
            flows_url(tenant, "projects").rstrip("/"), json=flow_payload(actions=[SCHEDULE]), headers=auth(tenant)
        )
        assert response.status_code == 201


class TestRetrieveUpdateDelete:
    async def test_retrieve(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create(client, tenant, actions=[SCHEDULE])
        response = await client.get(f"{flows_url(tenant)}{flow['id']}", headers=auth(tenant))
        assert response.status_code == 200
        assert response.json() == flow

    async def test_malformed_and_unknown_ids(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        for flow_id in ("not-a-uuid", "12345", "00000000-0000-0000-0000-000000000000"):
            response = await client.get(f"{flows_url(tenant)}{flow_id}/", headers=auth(tenant))
            assert response.status_code == 404
            assert response.json() == {
                "type": "invalid_request",
                "code": "not_found",
                "detail": "Not found.",
                "attr": None,
            }

    async def test_patch_changes_only_given_fields(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create(client, tenant, actions=[SCHEDULE], description="keep me")
        url = f"{flows_url(tenant)}{flow['id']}/"
        response = await client.patch(
            url, json={"name": "Renamed", "exit_condition": "exit_only_at_end"}, headers=auth(tenant)
        )
        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated["name"] == "Renamed"
        assert updated["exit_condition"] == "exit_only_at_end"
        assert updated["description"] == "keep me"
        assert updated["actions"] == flow["actions"]
        assert updated["updated_at"] > flow["updated_at"]
        assert updated["created_at"] == flow["created_at"]

    async def test_put_requires_actions(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create(client, tenant, actions=[SCHEDULE])
        url = f"{flows_url(tenant)}{flow['id']}/"
        response = await client.put(url, json={"name": "no actions"}, headers=auth(tenant))
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "code": "required",
            "detail": "This field is required.",
            "attr": "actions",
        }
        response = await client.put(url, json=flow_payload(name="replaced", actions=[SCHEDULE]), headers=auth(tenant))
        assert response.status_code == 200
        assert response.json()["name"] == "replaced"

    async def test_delete(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create(client, tenant, actions=[SCHEDULE])
        url = f"{flows_url(tenant)}{flow['id']}/"
        response = await client.delete(url, headers=auth(tenant))
        assert response.status_code == 204
        assert response.content == b""
        assert (await client.get(url, headers=auth(tenant))).status_code == 404
        assert (await client.delete(url, headers=auth(tenant))).status_code == 404


class TestDraftAndActivation:
    INCOMPLETE_DELAY = {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": "P30D"}}

    async def test_incomplete_draft_cannot_be_activated_but_can_be_archived(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        flow = await create(client, tenant, actions=[SCHEDULE, self.INCOMPLETE_DELAY])
        url = f"{flows_url(tenant)}{flow['id']}/"
        response = await client.patch(url, json={"status": "active"}, headers=auth(tenant))
        assert response.status_code == 400
        assert response.json()["attr"] == "actions__1__config"
        assert (await client.get(url, headers=auth(tenant))).json()["status"] == "draft"
        response = await client.patch(url, json={"status": "archived"}, headers=auth(tenant))
        assert response.status_code == 200
        assert response.json()["status"] == "archived"

    async def test_complete_draft_activates_and_active_can_go_back_to_draft(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        delay = {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": "1.5h"}}
        flow = await create(client, tenant, actions=[SCHEDULE, delay])
        url = f"{flows_url(tenant)}{flow['id']}/"
        response = await client.patch(url, json={"status": "active"}, headers=auth(tenant))
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "active"
        response = await client.patch(url, json={"status": "draft"}, headers=auth(tenant))
        assert response.json()["status"] == "draft"

    async def test_active_flow_edits_are_strict(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        flow = await create(client, tenant, actions=[SCHEDULE], status="active")
        url = f"{flows_url(tenant)}{flow['id']}/"
        response = await client.patch(url, json={"actions": [SCHEDULE, self.INCOMPLETE_DELAY]}, headers=auth(tenant))
        assert response.status_code == 400
        assert (await client.get(url, headers=auth(tenant))).json()["actions"] == flow["actions"]
