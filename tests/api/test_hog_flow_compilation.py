"""What saving compiles: filters, conditions, conversion, masking and inputs (api.md §2.4, §4.3, §4.7-§4.9)."""

from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url, wired

COHORT = {"key": "id", "type": "cohort", "value": 3}
PAGEVIEW = {"events": [{"id": "$pageview", "name": "$pageview", "type": "events", "order": 0}]}


def trigger(config: dict[str, Any]) -> dict[str, Any]:
    return {"id": "trigger_node", "name": "trigger_1", "type": "trigger", "config": config}


def event_trigger(filters: dict[str, Any] | None = None, **config: Any) -> dict[str, Any]:
    return trigger({"type": "event", "filters": filters if filters is not None else PAGEVIEW, **config})


def webhook_action(inputs: dict[str, Any], template_id: str = "template-webhook") -> dict[str, Any]:
    return {"id": "hook", "name": "hook", "type": "function", "config": {"template_id": template_id, "inputs": inputs}}


async def post(
    client: httpx.AsyncClient, tenant: Tenant, actions: list[dict[str, Any]], **fields: Any
) -> httpx.Response:
    if "edges" not in fields:
        actions, fields["edges"] = wired(actions)
    return await client.post(flows_url(tenant), json={"name": "c", "actions": actions, **fields}, headers=auth(tenant))


async def test_posthog_example_webhook_trigger(client: httpx.AsyncClient, tenant: Tenant) -> None:
    request = trigger(
        {"type": "webhook", "template_id": "template-webhook", "inputs": {"url": {"value": "https://example.com"}}}
    )
    response = await post(client, tenant, [request], status="active")
    assert response.status_code == 201, response.text
    expected_config = {
        "type": "webhook",
        "template_id": "template-webhook",
        "inputs": {
            "url": {"value": "https://example.com", "bytecode": ["_H", 1, 32, "https://example.com"], "order": 0}
        },
    }
    assert response.json()["actions"][0] == {
        "id": "trigger_node",
        "name": "trigger_1",
        "description": "",
        "on_error": None,
        "filters": None,
        "type": "trigger",
        "config": expected_config,
        "output_variable": None,
    }
    assert response.json()["trigger"] == expected_config


async def test_event_trigger_filters_compile(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await post(client, tenant, [event_trigger(filter_test_accounts=False)], status="active")
    trigger_config = response.json()["trigger"]
    assert trigger_config["filters"]["bytecode"] == ["_H", 1, 32, "$pageview", 32, "event", 1, 1, 11]
    assert trigger_config["filters"]["filter_test_accounts"] is False
    assert "filter_test_accounts" not in trigger_config


async def test_empty_trigger_filters_stay_uncompiled(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await post(client, tenant, [event_trigger({})], status="active")
    assert response.json()["trigger"] == {"type": "event", "filters": {}}


async def test_action_filters_compile_and_errors_fail_even_drafts(client: httpx.AsyncClient, tenant: Tenant) -> None:
    action_filters = {
        "properties": [{"key": "event", "type": "event_metadata", "value": ["custom_event"], "operator": "exact"}]
    }
    exit_action = {"id": "x", "name": "x", "type": "exit", "config": {}, "filters": action_filters}
    response = await post(client, tenant, [event_trigger(), exit_action])
    assert response.json()["actions"][1]["filters"]["bytecode"] == ["_H", 1, 32, "custom_event", 32, "event", 1, 1, 11]
    bad = {**exit_action, "filters": {"properties": [COHORT]}}
    response = await post(client, tenant, [event_trigger(), bad])
    assert response.status_code == 400
    assert response.json()["attr"] == "actions__1__filters"
    assert response.json()["detail"].startswith("Invalid filter configuration: ")


async def test_trigger_filter_errors_strict_vs_draft(client: httpx.AsyncClient, tenant: Tenant) -> None:
    broken = event_trigger({"properties": [COHORT]})
    strict = await post(client, tenant, [broken], status="active")
    assert strict.status_code == 400
    assert strict.json()["attr"] == "actions__0__filters"
    draft = await post(client, tenant, [broken])
    assert draft.status_code == 201
    filters = draft.json()["trigger"]["filters"]
    assert filters["bytecode"] is None
    assert filters["bytecode_error"]


class TestConditions:
    @staticmethod
    def branch(filters: dict[str, Any]) -> dict[str, Any]:
        return {"id": "b", "name": "b", "type": "conditional_branch", "config": {"conditions": [{"filters": filters}]}}

    async def test_conditions_compile(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        filters = {"properties": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]}
        response = await post(client, tenant, [event_trigger(), self.branch(filters)], status="active")
        assert response.status_code == 201, response.text
        compiled = response.json()["actions"][1]["config"]["conditions"][0]["filters"]
        assert compiled["bytecode"][:2] == ["_H", 1]

    async def test_event_filters_forbidden_in_conditions(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await post(client, tenant, [event_trigger(), self.branch(PAGEVIEW)], status="active")
        assert response.status_code == 400
        assert response.json()["attr"] == "actions__1__non_field_errors"
        assert response.json()["detail"] == "Event filters are not allowed in conditionals"
        assert (await post(client, tenant, [event_trigger(), self.branch(PAGEVIEW)])).status_code == 201

    async def test_wait_events_may_filter_on_events(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        wait = {
            "id": "w",
            "name": "w",
            "type": "wait_until_condition",
            "config": {"condition": {"filters": None}, "events": [{"filters": PAGEVIEW}], "max_wait_duration": "1h"},
        }
        response = await post(client, tenant, [event_trigger(), wait], status="active")
        assert response.status_code == 201, response.text
        assert response.json()["actions"][1]["config"]["events"][0]["filters"]["bytecode"]


class TestConversionAndMasking:
    async def test_conversion_bytecode(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        conversion = {
            "filters": [{"key": "$browser", "type": "person", "value": ["Chrome"], "operator": "exact"}],
            "window_minutes": 60,
            "bytecode": ["ignored"],
        }
        response = await post(client, tenant, [event_trigger()], conversion=conversion)
        assert response.json()["conversion"] == {
            "filters": conversion["filters"],
            "window_minutes": 60,
            "bytecode": ["_H", 1, 32, "Chrome", 32, "$browser", 32, "properties", 32, "person", 1, 3, 11],
        }

    async def test_conversion_without_filters_gets_empty_bytecode(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        response = await post(client, tenant, [event_trigger()], conversion={"window_minutes": None})
        assert response.json()["conversion"] == {"window_minutes": None, "bytecode": []}

    async def test_masking_hash_compiles(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        masking = {"hash": "{person.id}", "ttl": 3600, "bytecode": "whatever"}
        response = await post(client, tenant, [event_trigger()], trigger_masking=masking)
        assert response.json()["trigger_masking"] == {
            "hash": "{person.id}",
            "ttl": 3600,
            "threshold": None,
            "bytecode": ["_H", 1, 32, "id", 32, "person", 1, 2],
        }

    async def test_masking_template_error(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await post(client, tenant, [event_trigger()], trigger_masking={"hash": "{person.", "ttl": 600})
        assert response.status_code == 400
        assert response.json()["attr"] == "trigger_masking__hash"
        assert response.json()["detail"].startswith("Invalid template: ")


class TestFunctionInputs:
    @pytest.mark.parametrize(
        ("action", "attr", "detail"),
        [
            (webhook_action({}), "actions__1__inputs__url", "This field is required."),
            (webhook_action({"url": {"value": ""}}), "actions__1__inputs__url", "This field is required."),
            (webhook_action({"url": {"value": 42}}), "actions__1__inputs__url", "Value must be a string."),
            (
                webhook_action({"url": {"value": "https://x"}, "headers": {"value": "nope"}}),
                "actions__1__inputs__headers",
                "Value must be a dictionary.",
            ),
            (
                webhook_action({"url": {"value": "https://x"}, "debug": {"value": 3}}),
                "actions__1__inputs__debug",
                "Value must be a boolean.",
            ),
            (
                webhook_action({"url": {"value": "https://x"}}, template_id="template-nope"),
                "actions__1__template_id",
                "Template not found",
            ),
            (
                webhook_action({"url": {"value": "{inputs.body}"}, "body": {"value": "{inputs.url}"}}),
                "actions__1__inputs__url",
                "Circular dependency detected in input_deps.",
            ),
        ],
    )
    async def test_strict_input_errors_and_lenient_drafts(
        self, client: httpx.AsyncClient, tenant: Tenant, action: dict[str, Any], attr: str, detail: str
    ) -> None:
        strict = await post(client, tenant, [event_trigger(), action], status="active")
        assert strict.status_code == 400, strict.text
        assert (strict.json()["attr"], strict.json()["detail"]) == (attr, detail)
        draft = await post(client, tenant, [event_trigger(), action])
        assert draft.status_code == 201
        assert draft.json()["actions"][1]["config"] == action["config"]

    async def test_invalid_template_syntax(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await post(
            client, tenant, [event_trigger(), webhook_action({"url": {"value": "https://x/{event."}})], status="active"
        )
        assert response.status_code == 400
        assert response.json()["attr"] == "actions__1__inputs__url"
        assert response.json()["detail"].startswith("Invalid template: ")

    async def test_inputs_compile_in_dependency_order_and_unknown_keys_drop(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        inputs = {
            "body": {"value": {"greeting": "Hi {person.properties.name}", "url": "{inputs.url}"}},
            "url": {"value": "https://example.com/{event.event}", "extra": 1},
            "bogus": {"value": "x"},
        }
        response = await post(client, tenant, [event_trigger(), webhook_action(inputs)], status="active")
        assert response.status_code == 201, response.text
        compiled = response.json()["actions"][1]["config"]["inputs"]
        assert list(compiled) == ["url", "body"]
        assert compiled["url"]["order"] == 0 and compiled["body"]["order"] == 1
        assert set(compiled["url"]) == {"value", "bytecode", "order"}
        assert compiled["body"]["bytecode"]["greeting"][:2] == ["_H", 1]
        assert compiled["body"]["bytecode"]["url"] == ["_H", 1, 32, "url", 32, "inputs", 1, 2]

    async def test_activation_persists_compiled_inputs(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        action = webhook_action({"url": {"value": "https://example.com"}})
        draft = (await post(client, tenant, [event_trigger(), action])).json()
        url = f"{flows_url(tenant)}{draft['id']}/"
        activated = await client.patch(url, json={"status": "active"}, headers=auth(tenant))
        assert activated.status_code == 200
        stored = (await client.get(url, headers=auth(tenant))).json()
        assert stored["actions"][1]["config"]["inputs"]["url"]["bytecode"] == ["_H", 1, 32, "https://example.com"]
        assert stored["billable_action_types"] == ["function"]
