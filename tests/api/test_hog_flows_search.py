"""List filters of PostHog's current API: `search`, `type`, `origin_product`; `origin_product` on create."""

from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, exit_action, flows_url, trigger_action

EMAIL = {"id": "mail", "name": "mail", "type": "function_email", "config": {"template_id": "template-email"}}


async def create(client: httpx.AsyncClient, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"actions": [trigger_action(), exit_action()], **fields}
    response = await client.post(flows_url(tenant), json=body, headers=auth(tenant))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def names(client: httpx.AsyncClient, tenant: Tenant, **params: str) -> list[str]:
    response = await client.get(flows_url(tenant), params=params, headers=auth(tenant))
    assert response.status_code == 200, response.text
    return sorted(flow["name"] for flow in response.json()["results"])


class TestSearch:
    async def test_name_and_description_any_case(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await create(client, tenant, name="Welcome Email")
        await create(client, tenant, name="Other", description="sends the WELCOME note")
        await create(client, tenant, name="Unrelated")
        assert await names(client, tenant, search="welcome") == ["Other", "Welcome Email"]
        assert await names(client, tenant, search="  EMAIL ") == ["Welcome Email"]

    async def test_spaces_match_separators(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await create(client, tenant, name="trial-ending_reminder")
        await create(client, tenant, name="trial   ending reminder")
        await create(client, tenant, name="trialending")
        await create(client, tenant, name="trial.ending")
        assert await names(client, tenant, search="trial ending") == [
            "trial   ending reminder",
            "trial-ending_reminder",
            "trialending",
        ]

    async def test_regex_characters_are_literal(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await create(client, tenant, name="v1.0 (beta)")
        await create(client, tenant, name="v100 beta")
        assert await names(client, tenant, search="v1.0 (beta)") == ["v1.0 (beta)"]
        assert await names(client, tenant, search="[") == []

    async def test_too_long_is_400(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await client.get(flows_url(tenant), params={"search": "x" * 201}, headers=auth(tenant))
        assert response.status_code == 400, response.text
        assert response.json()["attr"] == "search"

    async def test_other_teams_flows_are_not_found(
        self, client: httpx.AsyncClient, tenant: Tenant, make_tenant: Any
    ) -> None:
        other = await make_tenant()
        await create(client, other, name="secret welcome")
        assert await names(client, tenant, search="welcome") == []


class TestType:
    async def test_messaging_and_automation(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await create(client, tenant, name="mail", actions=[trigger_action(), EMAIL])
        await create(client, tenant, name="plain")
        await create(client, tenant, name="loop mail", actions=[trigger_action(), EMAIL], origin_product="loops")
        await create(client, tenant, name="broadcast", origin_product="broadcasts")
        assert await names(client, tenant, type="messaging") == ["mail"]
        assert await names(client, tenant, type="automation") == ["plain"]
        assert await names(client, tenant, type="messaging,automation") == ["mail", "plain"]
        assert await names(client, tenant, type="loop") == ["loop mail"]
        assert await names(client, tenant, type="broadcast,automation") == ["broadcast", "plain"]

    @pytest.mark.parametrize(
        ("value", "detail"),
        [
            ("sms", "Unknown: sms. Must be one of: messaging, automation, loop, broadcast"),
            ("messaging,x", "Unknown: x. Must be one of: messaging, automation, loop, broadcast"),
            (",", "Must be one of: messaging, automation, loop, broadcast"),
        ],
    )
    async def test_unknown_values_are_400(
        self, client: httpx.AsyncClient, tenant: Tenant, value: str, detail: str
    ) -> None:
        response = await client.get(flows_url(tenant), params={"type": value}, headers=auth(tenant))
        assert response.status_code == 400, response.text
        assert response.json() == {
            "type": "validation_error",
            "code": "invalid_input",
            "detail": detail,
            "attr": "type",
        }


class TestOriginProduct:
    async def test_set_on_create_and_filtered(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        loop = await create(client, tenant, name="loop", origin_product="loops")
        plain = await create(client, tenant, name="plain")
        assert loop["origin_product"] == "loops"
        assert plain["origin_product"] is None
        assert await names(client, tenant, origin_product="loops") == ["loop"]
        assert await names(client, tenant, origin_product="loops,broadcasts") == ["loop"]
        listed = (await client.get(flows_url(tenant), headers=auth(tenant))).json()["results"]
        assert {flow["name"]: flow["origin_product"] for flow in listed} == {"loop": "loops", "plain": None}

    async def test_immutable_after_create(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        loop = await create(client, tenant, name="loop", origin_product="loops")
        plain = await create(client, tenant, name="plain")
        for flow in (loop, plain):
            response = await client.patch(
                f"{flows_url(tenant)}{flow['id']}/", json={"origin_product": "broadcasts"}, headers=auth(tenant)
            )
            assert response.status_code == 200, response.text
            assert response.json()["origin_product"] == flow["origin_product"]

    async def test_unknown_value_on_create_is_400(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        body = {"actions": [trigger_action()], "origin_product": "surveys"}
        response = await client.post(flows_url(tenant), json=body, headers=auth(tenant))
        assert response.status_code == 400, response.text
        assert response.json()["attr"] == "origin_product"
        assert response.json()["detail"] == '"surveys" is not a valid choice.'
        listed = await client.get(flows_url(tenant), params={"origin_product": "surveys"}, headers=auth(tenant))
        assert listed.status_code == 400, listed.text
        assert listed.json()["attr"] == "origin_product"
