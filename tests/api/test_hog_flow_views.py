"""The fast renderings of a flow (app/services/hog_flow_views.py) give exactly the pydantic models' JSON.

Each case renders the same row both ways, key order included: through the fast path (or its fallback
for values of unexpected types) and through `HogFlow` / `HogFlowMinimal` as the routes used to. Rows
hold JSON columns as text, as `HogFlowReads` returns them.
"""

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from app.db.json_codec import dumps
from app.schemas.hog_flow import HogFlow, HogFlowMinimal
from app.schemas.schedules import Schedule
from app.services.hog_flow_views import _RenderedColumns, _variables, render_detail, render_list_item

CREATED = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
UPDATED = datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
USER = {
    "id": 7,
    "uuid": uuid.UUID("01900000-0000-7000-8000-000000000001"),
    "distinct_id": "d-7",
    "first_name": "Ada",
    "last_name": "L",
    "email": "ada@example.com",
    "is_email_verified": None,
    "hedgehog_config": {"color": "blue"},
    "role_at_organization": None,
}
SECRET_TRIGGER = {
    "type": "webhook",
    "template_id": "template-source-webhook",
    "inputs": {"auth_header": {"value": "Bearer s3cret"}, "debug": {"value": True}},
}
WEBHOOK_STEP = {
    "id": "hook",
    "name": "hook",
    "type": "function",
    "config": {
        "template_id": "template-webhook",
        "inputs": {"url": {"value": "https://example.com"}, "token": {"value": "x"}},
        "inputs_schema": [{"key": "token", "type": "string", "secret": True}],
    },
}
CONDITION = {
    "id": "cond",
    "name": "cond",
    "description": "checks",
    "on_error": "continue",
    "type": "conditional_branch",
    "config": {"conditions": []},
    "filters": {
        "events": [{"id": "$pageview", "type": "events", "custom": 1}, {"id": None, "order": 2, "name": "n"}],
        "properties": [{"key": "plan", "value": "pro"}],
        "bytecode": ["_H", 1],
        "zeta": "kept",
        "filter_test_accounts": False,
    },
    "created_at": 1700000000000,
    "output_variable": {"key": "out"},
}


def flow_row(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.UUID("01900000-0000-7000-8000-0000000000aa"),
        "team_id": 1,
        "name": "flow",
        "description": "",
        "version": 3,
        "status": "active",
        "origin_product": None,
        "created_at": CREATED,
        "created_by_id": 7,
        "updated_at": UPDATED,
        "trigger": copy.deepcopy(SECRET_TRIGGER),
        "trigger_masking": {"ttl": 60, "threshold": None, "hash": "{person.id}", "bytecode": ["_H"], "other": 1},
        "conversion": None,
        "exit_condition": "exit_on_conversion",
        "edges": [{"from": "trigger", "to": "hook", "type": "continue"}],
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": copy.deepcopy(SECRET_TRIGGER)},
            copy.deepcopy(WEBHOOK_STEP),
            copy.deepcopy(CONDITION),
            {"id": "exit", "name": "exit", "type": "exit", "config": {}, "filters": None},
        ],
        "abort_action": None,
        "variables": [{"key": "a", "type": "string"}],
        "billable_action_types": ["function"],
        "draft": {"actions": [copy.deepcopy(WEBHOOK_STEP)], "trigger": copy.deepcopy(SECRET_TRIGGER), "edges": []},
        "draft_updated_at": None,
    }
    row.update({f"created_by__{name}": value for name, value in USER.items()})
    row.update(overrides)
    return row


JSON_KEYS = (
    "trigger", "trigger_masking", "conversion", "edges", "actions", "variables", "billable_action_types", "draft",
    "created_by__hedgehog_config", "schedule__variables",
)  # fmt: skip


def stored(row: dict[str, Any]) -> dict[str, Any]:
    """The row as the database gives it: JSON columns as text (SQL NULL as None)."""
    return {key: json.dumps(value) if key in JSON_KEYS and value is not None else value for key, value in row.items()}


def with_schedule(row: dict[str, Any], schedule: dict[str, Any] | None) -> dict[str, Any]:
    names = ("id", "rrule", "starts_at", "timezone", "variables", "status", "next_run_at", "created_at", "updated_at")
    return stored({**row, **{f"schedule__{name}": (schedule or {}).get(name) for name in names}})


def rendered(value: Any) -> str:
    return json.dumps(json.loads(dumps(value)))


def reference(row: dict[str, Any], model: type[HogFlow] | type[HogFlowMinimal], schedules: list[Any]) -> str:
    """The models' rendering, from the ORM-like data the routes used to validate."""
    data = {key: copy.deepcopy(value) for key, value in row.items() if "__" not in key}
    user_id = row["created_by__id"]
    data["created_by"] = None if user_id is None else {name: row[f"created_by__{name}"] for name in USER}
    if model is HogFlow:
        data["schedules"] = [Schedule.model_validate(schedule).model_dump(mode="json") for schedule in schedules]
    return json.dumps(model.model_validate(data).model_dump(mode="json"))


SCHEDULE = {
    "id": uuid.UUID("01900000-0000-7000-8000-0000000000bb"),
    "rrule": "FREQ=DAILY",
    "starts_at": CREATED,
    "timezone": "UTC",
    "variables": {"a": 1},
    "status": "active",
    "next_run_at": None,
    "created_at": CREATED,
    "updated_at": UPDATED,
}

CASES: dict[str, dict[str, Any]] = {
    "typical": {},
    "no creator": {**{f"created_by__{name}": None for name in USER}, "created_by_id": None},
    "no masking, no draft, conversion": {
        "trigger_masking": None,
        "draft": None,
        "conversion": {"filters": [], "window_minutes": 5},
        "draft_updated_at": UPDATED,
    },
    # Values the models coerce or refuse: the fast path hands them over.
    "masking ttl as text": {"trigger_masking": {"ttl": "60", "hash": "h"}},
    "action id as a number": {"actions": [{"id": 1, "name": "x", "type": "exit", "config": {}}]},
    "filter_test_accounts as text": {
        "actions": [{**copy.deepcopy(CONDITION), "filters": {"filter_test_accounts": "true"}}]
    },
    "event order as text": {"actions": [{**copy.deepcopy(CONDITION), "filters": {"events": [{"order": "2"}]}}]},
    "user hedgehog config as a list": {"created_by__hedgehog_config": ["x"]},
    "draft without actions": {"draft": {"trigger": {}}},
    "integers past 64 bits": {"edges": [12345678901234567890123], "variables": [{"n": -(2**70)}]},
    "JSON null in nullable columns": {"conversion": None, "draft": None, "trigger_masking": None},
}


@pytest.mark.parametrize("case", list(CASES))
def test_detail_and_list_render_as_the_models(case: str) -> None:
    row = flow_row(**copy.deepcopy(CASES[case]))
    for schedules in ([], [SCHEDULE, {**SCHEDULE, "id": uuid.uuid4(), "next_run_at": UPDATED}]):
        rows = [with_schedule(row, schedule) for schedule in schedules] or [with_schedule(row, None)]
        try:
            expected = reference(row, HogFlow, schedules)
        except ValueError:
            with pytest.raises(ValueError):
                render_detail(rows)
        else:
            assert rendered(render_detail(rows)) == expected
            assert rendered(render_detail(rows)) == expected  # again, from the cache
    try:
        expected = reference(row, HogFlowMinimal, [])
    except ValueError:
        with pytest.raises(ValueError):
            render_list_item(stored(row))
    else:
        assert rendered(render_list_item(stored(row))) == expected
        assert rendered(render_list_item(stored(row))) == expected


def test_secrets_are_masked_everywhere() -> None:
    text = rendered([render_detail([with_schedule(flow_row(), None)]), render_list_item(stored(flow_row()))])
    assert "s3cret" not in text
    assert '"token": {"value": "x"}' not in text


def test_the_rendered_columns_stay_within_their_budget() -> None:
    columns = _RenderedColumns(max_bytes=2_000)
    for n in range(100):
        text = json.dumps([{"key": f"v{n}", "type": "string"}])
        assert json.loads(dumps(columns.get(_variables, text))) == [{"key": f"v{n}", "type": "string"}]
        assert columns.size <= 2_000
    assert json.loads(dumps(columns.get(_variables, text))) == [{"key": "v99", "type": "string"}]  # kept
