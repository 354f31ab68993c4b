"""Validation rules and error bodies (spec/api.md §3, §4, §9.4). Bad input changes nothing."""

import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlow as HogFlowModel
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, exit_action, flow_payload, flows_url, trigger_action

SCHEDULE = trigger_action({"type": "schedule"})


def duration_error(field: str) -> str:
    return (
        field + r" must be a string matching ^\d*\.?\d+[dhms]$ (e.g. '30s', '30m', '2h', '1.5d'). "
        "ISO-8601 formats are not supported."
    )


DELAY_ERROR = duration_error("delay_duration")


async def post(client: httpx.AsyncClient, tenant: Tenant, payload: Any) -> httpx.Response:
    return await client.post(flows_url(tenant), json=payload, headers=auth(tenant))


async def assert_rejected(
    client: httpx.AsyncClient,
    tenant: Tenant,
    payload: Any,
    *,
    attr: str | None,
    detail: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    before = (await client.get(flows_url(tenant), headers=auth(tenant))).json()["count"]
    response = await post(client, tenant, payload)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["attr"] == attr, body
    if detail is not None:
        assert body["detail"] == detail
    if code is not None:
        assert body["code"] == code
    after = (await client.get(flows_url(tenant), headers=auth(tenant))).json()["count"]
    assert after == before
    return dict(body)


class TestTriggerRule:
    @pytest.mark.parametrize("status", ["draft", "active"])
    @pytest.mark.parametrize(
        "actions",
        [[], [exit_action()], [SCHEDULE, trigger_action({"type": "schedule"}, action_id="second")]],
        ids=["empty", "none", "two"],
    )
    async def test_exactly_one_trigger(
        self, client: httpx.AsyncClient, tenant: Tenant, actions: list[dict[str, Any]], status: str
    ) -> None:
        response = await post(client, tenant, flow_payload(actions=actions, status=status))
        assert response.status_code == 400
        assert response.json() == {
            "type": "validation_error",
            "code": "invalid_input",
            "detail": "Exactly one trigger action is required",
            "attr": "actions",
        }

    async def test_invalid_trigger_type_strict_only(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        actions = [trigger_action({"type": "carrier-pigeon"})]
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=actions, status="active"),
            attr="actions__0__config",
            detail="Invalid trigger type",
        )
        assert (await post(client, tenant, flow_payload(actions=actions))).status_code == 201

    @pytest.mark.parametrize(
        ("filters", "attr", "detail"),
        [
            (None, "actions__0__filters", "Filters are required for batch triggers."),
            ({}, "actions__0__filters", "Filters are required for batch triggers."),
            ("abc", "actions__0__filters", "Filters must be a dictionary."),
            ({"properties": {"a": 1}}, "actions__0__filters__properties", "Properties must be an array."),
        ],
    )
    async def test_batch_trigger(
        self, client: httpx.AsyncClient, tenant: Tenant, filters: Any, attr: str, detail: str
    ) -> None:
        actions = [trigger_action({"type": "batch", "filters": filters})]
        await assert_rejected(client, tenant, flow_payload(actions=actions, status="active"), attr=attr, detail=detail)
        assert (await post(client, tenant, flow_payload(actions=actions))).status_code == 201

    async def test_valid_batch_trigger(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        config = {"type": "batch", "filters": {"properties": [{"key": "plan", "value": "pro", "type": "person"}]}}
        response = await post(client, tenant, flow_payload(actions=[trigger_action(config)], status="active"))
        assert response.status_code == 201, response.text
        assert response.json()["trigger"] == config


class TestActionFields:
    @pytest.mark.parametrize(
        ("change", "attr", "code"),
        [
            ({"name": None}, "actions__1__name", "null"),
            ({"name": ""}, "actions__1__name", "blank"),
            ({"name": "x" * 401}, "actions__1__name", "max_length"),
            ({"id": "   "}, "actions__1__id", "blank"),
            ({"type": "t" * 101}, "actions__1__type", "max_length"),
            ({"on_error": "explode"}, "actions__1__on_error", "invalid_choice"),
            ({"created_at": "yesterday"}, "actions__1__created_at", "invalid_input"),
            ({"config": None}, "actions__1__config", "null"),
        ],
    )
    async def test_field_rules_apply_to_drafts(
        self, client: httpx.AsyncClient, tenant: Tenant, change: dict[str, Any], attr: str, code: str
    ) -> None:
        await assert_rejected(
            client, tenant, flow_payload(actions=[SCHEDULE, {**exit_action(), **change}]), attr=attr, code=code
        )

    @pytest.mark.parametrize("missing", ["id", "name", "type", "config"])
    async def test_required_action_fields(self, client: httpx.AsyncClient, tenant: Tenant, missing: str) -> None:
        action = {k: v for k, v in exit_action().items() if k != missing}
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE, action]),
            attr=f"actions__1__{missing}",
            detail="This field is required.",
            code="required",
        )

    async def test_unknown_action_type_in_active_flow(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        action = {"id": "x", "name": "x", "type": "teleport", "config": {}}
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE, action], status="active"),
            attr="actions__1__type",
            detail='"teleport" is not a valid action type.',
        )
        assert (await post(client, tenant, flow_payload(actions=[SCHEDULE, action]))).status_code == 201


class TestDelay:
    @pytest.mark.parametrize("duration", [None, 30, "P30D", "30x", "", "1.5.5h", "h", "-1m"])
    async def test_invalid_durations_in_active_flow(
        self, client: httpx.AsyncClient, tenant: Tenant, duration: Any
    ) -> None:
        config = {} if duration is None else {"delay_duration": duration}
        delay = {"id": "wait", "name": "wait", "type": "delay", "config": config}
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE, delay], status="active"),
            attr="actions__1__config",
            detail=DELAY_ERROR,
            code="invalid_input",
        )
        assert (await post(client, tenant, flow_payload(actions=[SCHEDULE, delay]))).status_code == 201

    @pytest.mark.parametrize("duration", ["30m", "2h", "1d", "1.5h", "0.5m", ".5d", "30s", "5s"])
    async def test_valid_durations(self, client: httpx.AsyncClient, tenant: Tenant, duration: str) -> None:
        delay = {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": duration}}
        response = await post(client, tenant, flow_payload(actions=[SCHEDULE, delay], status="active"))
        assert response.status_code == 201, response.text

    @pytest.mark.parametrize(
        ("config", "detail"),
        [
            (
                {"delay_duration": "1h", "delay_until": {"expression": "person.properties.due"}},
                "A delay takes either delay_duration or delay_until, not both.",
            ),
            ({"delay_until": "tomorrow"}, "delay_until must be an object with an 'expression'."),
            ({"delay_until": {"expression": " "}}, "delay_until.expression is required and must be SQL."),
            (
                {"delay_until": {"expression": "person.properties.due", "offset": "1 day"}},
                r"delay_until.offset must be a string matching ^-?\d*\.?\d+[dhms]$ "
                "(e.g. '-1d' for a day before the date, '2h' for two hours after).",
            ),
            (
                {"delay_until": {"expression": "person.properties.due"}, "max_delay_duration": "P1D"},
                duration_error("max_delay_duration"),
            ),
            (
                {"delay_until": {"expression": "person.properties.due", "use_person_timezone": "no"}},
                "delay_until.use_person_timezone must be true or false.",
            ),
            (
                {"delay_until": {"expression": "person.properties.due", "timezone": "Mars/Olympus"}},
                "delay_until.timezone must be an IANA timezone name, e.g. 'Europe/Berlin'.",
            ),
        ],
    )
    async def test_invalid_delay_until(
        self, client: httpx.AsyncClient, tenant: Tenant, config: dict[str, Any], detail: str
    ) -> None:
        delay = {"id": "wait", "name": "wait", "type": "delay", "config": config}
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE, delay], status="active"),
            attr="actions__1__config",
            detail=detail,
        )

    async def test_delay_until_is_compiled_and_client_bytecode_dropped(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        until = {"expression": "person.properties.due", "offset": "-1d", "bytecode": ["_H", 1, 33, 1]}
        delay = {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_until": until}}
        response = await post(client, tenant, flow_payload(actions=[SCHEDULE, delay], status="active"))
        assert response.status_code == 201, response.text
        stored = response.json()["actions"][1]["config"]["delay_until"]
        assert stored["offset"] == "-1d"
        assert stored["bytecode"] != ["_H", 1, 33, 1] and stored["bytecode"][0] == "_H"

    async def test_unreadable_delay_until_expression(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        delay = {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_until": {"expression": "1 +"}}}
        body = await assert_rejected(
            client, tenant, flow_payload(actions=[SCHEDULE, delay], status="active"), attr="actions__1__config"
        )
        assert body["detail"].startswith("delay_until.expression could not be read as SQL: ")


PAGEVIEW_ENTRY = {"filters": {"events": [{"id": "$pageview", "type": "events"}]}}


def wait_action(config: dict[str, Any]) -> dict[str, Any]:
    return {"id": "wait", "name": "wait", "type": "wait_until_condition", "config": config}


class TestWaitUntilCondition:
    async def test_max_wait_duration_follows_the_delay_rule(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        action = wait_action({"events": [PAGEVIEW_ENTRY], "max_wait_duration": "2 days"})
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE, action], status="active"),
            attr="actions__1__config",
            detail=duration_error("max_wait_duration"),
        )

    async def test_clock_based_conditions_are_refused(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        condition = {"filters": {"properties": [{"key": "now() > toDateTime('2030-01-01')", "type": "hogql"}]}}
        action = wait_action({"condition": condition, "max_wait_duration": "1h"})
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE, action], status="active"),
            attr="actions__1__config",
            detail=(
                "This wait uses now(), so it depends on the current time rather than on something happening, "
                "and it can only advance once the workflow checks it again. To wait for a point in time, use a "
                "delay step, then add this condition to the step after it."
            ),
        )

    async def test_a_clock_condition_already_stored_on_an_active_flow_stays_editable(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        plan = {"filters": {"properties": [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]}}
        created = await post(
            client, tenant, flow_payload(actions=[SCHEDULE, wait_action({"condition": plan})], status="active")
        )
        assert created.status_code == 201, created.text
        flow_id = created.json()["id"]
        clock = {"filters": {"properties": [{"key": "now() > toDateTime('2030-01-01')", "type": "hogql"}]}}
        async with sessionmaker() as session:  # saved before the rule existed
            flow = await session.get(HogFlowModel, uuid.UUID(flow_id))
            assert flow is not None
            flow.actions = [
                flow.actions[0],
                {**flow.actions[1], "config": {"condition": clock, "events": []}},
                *flow.actions[2:],
            ]
            await session.commit()
        url = f"{flows_url(tenant)}{flow_id}/"
        stored = (await client.get(url, headers=auth(tenant))).json()["actions"]
        response = await client.patch(url, json={"actions": stored, "name": "renamed"}, headers=auth(tenant))
        assert response.status_code == 200, response.text
        changed = {"filters": {"properties": [{"key": "today() > toDate('2030-01-01')", "type": "hogql"}]}}
        edited = [stored[0], {**stored[1], "config": {"condition": changed}}, *stored[2:]]
        response = await client.patch(url, json={"actions": edited}, headers=auth(tenant))
        assert response.status_code == 400, response.text
        assert response.json()["detail"].startswith("This wait uses today(), so it depends on the current time")

    async def test_entries_without_an_event_are_dropped_and_seconds_accepted(
        self, client: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        config = {
            "events": [{"filters": {"events": []}}, PAGEVIEW_ENTRY],
            "max_wait_duration": "45s",
            "correlation": {"expression": "event.properties.cart_id"},
        }
        response = await post(client, tenant, flow_payload(actions=[SCHEDULE, wait_action(config)], status="active"))
        assert response.status_code == 201, response.text
        stored = response.json()["actions"][1]["config"]
        assert [entry["filters"]["events"][0]["id"] for entry in stored["events"]] == ["$pageview"]
        assert stored["events"][0]["filters"]["bytecode"][0] == "_H"
        assert stored["condition"] == {"filters": None}
        assert stored["correlation"]["expression"] == "event.properties.cart_id"
        assert stored["correlation"]["bytecode"][0] == "_H"

    async def test_correlation_needs_an_expression(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        config = {"events": [PAGEVIEW_ENTRY], "max_wait_duration": "1h", "correlation": {"expression": ""}}
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE, wait_action(config)], status="active"),
            attr="actions__1__config",
            detail="correlation.expression is required and must be an expression.",
        )


class TestFlowFields:
    @pytest.mark.parametrize(
        ("change", "attr", "code", "detail"),
        [
            ({"status": "bogus"}, "status", "invalid_choice", '"bogus" is not a valid choice.'),
            ({"exit_condition": "never"}, "exit_condition", "invalid_choice", '"never" is not a valid choice.'),
            ({"name": "n" * 401}, "name", "max_length", "Ensure this field has no more than 400 characters."),
            ({"actions": {"a": 1}}, "actions", "not_a_list", 'Expected a list of items but got type "dict".'),
            ({"actions": None}, "actions", "null", "This field may not be null."),
            ({"variables": None}, "variables", "null", "This field may not be null."),
            ({"variables": "x"}, "variables", "not_a_list", 'Expected a list of items but got type "str".'),
            ({"description": 12345678901234567890}, None, None, None),
        ],
    )
    async def test_field_errors(
        self,
        client: httpx.AsyncClient,
        tenant: Tenant,
        change: dict[str, Any],
        attr: str | None,
        code: str | None,
        detail: str | None,
    ) -> None:
        payload = flow_payload(**{"actions": [SCHEDULE], **change})
        if attr is None:
            assert (await post(client, tenant, payload)).status_code == 201
            return
        await assert_rejected(client, tenant, payload, attr=attr, code=code, detail=detail)

    async def test_missing_actions(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        await assert_rejected(
            client, tenant, {"name": "x"}, attr="actions", code="required", detail="This field is required."
        )


class TestVariables:
    async def test_values_become_strings(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        variables = [{"key": "n", "type": "number", "default": 5, "label": "N"}]
        response = await post(client, tenant, flow_payload(actions=[SCHEDULE], variables=variables))
        assert response.status_code == 201
        assert response.json()["variables"] == [{"key": "n", "type": "number", "default": "5", "label": "N"}]

    @pytest.mark.parametrize("value", [True, None, [1], {"a": 1}])
    async def test_non_string_values_rejected(self, client: httpx.AsyncClient, tenant: Tenant, value: Any) -> None:
        variables = [{"key": "k", "default": value}]
        body = await assert_rejected(
            client, tenant, flow_payload(actions=[SCHEDULE], variables=variables), attr="variables__0__default"
        )
        expected = "This field may not be null." if value is None else "Not a valid string."
        assert body["detail"] == expected

    async def test_unique_keys(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        variables = [{"key": "a", "default": "1"}, {"key": "a", "default": "2"}]
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE], variables=variables),
            attr="variables__non_field_errors",
            detail="Variable keys must be unique",
        )

    async def test_size_limit(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        too_big = [{"key": f"k{i}", "default": "x" * 1000} for i in range(6)]
        await assert_rejected(
            client,
            tenant,
            flow_payload(actions=[SCHEDULE], variables=too_big),
            attr="variables__non_field_errors",
            detail="Total size of variables definition must be less than 5KB",
        )
        fits = [{"key": f"k{i}", "default": "x" * 1200} for i in range(4)]
        assert (await post(client, tenant, flow_payload(actions=[SCHEDULE], variables=fits))).status_code == 201


class TestTriggerMaskingBounds:
    @pytest.mark.parametrize(
        ("masking", "attr", "detail"),
        [
            (
                {"hash": "{person.id}", "ttl": 59},
                "trigger_masking__ttl",
                "Ensure this value is greater than or equal to 60.",
            ),
            (
                {"hash": "{person.id}", "ttl": 94_608_001},
                "trigger_masking__ttl",
                "Ensure this value is less than or equal to 94608000.",
            ),
            ({"ttl": 600}, "trigger_masking__hash", "This field is required."),
            ({"hash": "", "ttl": 600}, "trigger_masking__hash", None),
            (
                {"hash": "{person.id}", "threshold": "many"},
                "trigger_masking__threshold",
                "A valid integer is required.",
            ),
        ],
    )
    async def test_bounds(
        self, client: httpx.AsyncClient, tenant: Tenant, masking: dict[str, Any], attr: str, detail: str | None
    ) -> None:
        await assert_rejected(
            client, tenant, flow_payload(actions=[SCHEDULE], trigger_masking=masking), attr=attr, detail=detail
        )


class TestMalformedRequests:
    async def test_malformed_json(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        response = await client.post(
            flows_url(tenant), content=b'{"name": ', headers={**auth(tenant), "content-type": "application/json"}
        )
        assert response.status_code == 400
        body = response.json()
        assert body["type"] == "invalid_request"
        assert body["code"] == "parse_error"
        assert body["detail"].startswith("JSON parse error")

    @pytest.mark.parametrize("body", [[], "text", 3, None])
    async def test_body_not_an_object(self, client: httpx.AsyncClient, tenant: Tenant, body: Any) -> None:
        response = await client.post(
            flows_url(tenant),
            content=json.dumps(body).encode(),
            headers={**auth(tenant), "content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["type"] in ("validation_error", "invalid_request")

    async def test_huge_body(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        payload = flow_payload(actions=[SCHEDULE], description="x" * (6 * 1024 * 1024))
        response = await post(client, tenant, payload)
        assert response.status_code == 413
        assert response.json()["code"] == "request_too_large"
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).json()["count"] == 0

    async def test_patch_with_bad_input_changes_nothing(self, client: httpx.AsyncClient, tenant: Tenant) -> None:
        created = (await post(client, tenant, flow_payload(actions=[SCHEDULE]))).json()
        url = f"{flows_url(tenant)}{created['id']}/"
        for body in ({"name": "ok", "status": "nope"}, {"name": "ok", "actions": []}, {"variables": [{"k": True}]}):
            response = await client.patch(url, json=body, headers=auth(tenant))
            assert response.status_code == 400, body
        assert (await client.get(url, headers=auth(tenant))).json() == created
