"""Compilation: exact PostHog bytecode (api.md §4.7/§4.8), kept keys, compile errors."""

from __future__ import annotations

from typing import Any

import pytest

from app.filters import FiltersCompileError, compile_conversion_filters, compile_filters


def test_trigger_event_bytecode() -> None:
    filters = {"events": [{"id": "$pageview", "name": "$pageview", "type": "events", "order": 0}]}
    compiled = compile_filters(filters)
    assert compiled["bytecode"] == ["_H", 1, 32, "$pageview", 32, "event", 1, 1, 11]
    assert compiled["events"] == filters["events"]
    assert "bytecode_error" not in compiled


def test_event_metadata_bytecode() -> None:
    filters = {
        "properties": [{"key": "event", "type": "event_metadata", "value": ["custom_event"], "operator": "exact"}]
    }
    assert compile_filters(filters)["bytecode"] == ["_H", 1, 32, "custom_event", 32, "event", 1, 1, 11]


def test_conversion_bytecode() -> None:
    conversion = [{"key": "$browser", "type": "person", "value": ["Chrome"], "operator": "exact"}]
    filters, bytecode = compile_conversion_filters(conversion)
    assert filters == conversion
    assert bytecode == ["_H", 1, 32, "Chrome", 32, "$browser", 32, "properties", 32, "person", 1, 3, 11]


def test_conversion_without_filters() -> None:
    assert compile_conversion_filters([]) == ([], [])


def test_empty_filters_stay_empty() -> None:
    assert compile_filters({}) == {}
    assert compile_filters(None) == {}


def test_no_parts_compiles_to_true() -> None:
    assert compile_filters({"events": []})["bytecode"] == ["_H", 1, 29]


def test_and_or_bytecode_shape() -> None:
    filters = {
        "events": [{"id": "a", "type": "events"}, {"id": "b", "type": "events"}],
        "properties": [{"key": "x", "value": "1", "type": "event"}],
    }
    assert compile_filters(filters)["bytecode"] == [
        "_H", 1,
        32, "1", 32, "x", 32, "properties", 1, 2, 11,
        32, "a", 32, "event", 1, 1, 11,
        32, "b", 32, "event", 1, 1, 11,
        4, 2,
        3, 2,
    ]  # fmt: skip


def test_unknown_keys_dropped_and_error_cleared() -> None:
    compiled = compile_filters(
        {
            "events": [{"id": "a", "type": "events"}],
            "bytecode": ["stale"],
            "bytecode_error": "old",
            "something": 1,
            "filter_test_accounts": False,
            "source": "events",
        }
    )
    assert set(compiled) == {"events", "filter_test_accounts", "source", "bytecode"}
    assert compiled["bytecode"] == ["_H", 1, 32, "a", 32, "event", 1, 1, 11]


def test_input_is_not_mutated() -> None:
    filters: dict[str, Any] = {"events": [{"id": "a", "type": "events"}], "junk": True}
    compile_filters(filters)
    assert filters == {"events": [{"id": "a", "type": "events"}], "junk": True}


def _error(filters: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(FiltersCompileError) as info:
        compile_filters(filters, **kwargs)
    return str(info.value)


def prop(**kwargs: Any) -> dict[str, Any]:
    return {"properties": [kwargs]}


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            prop(key="id", value=3, type="cohort"),
            "Cohort membership can't be evaluated in real-time filters.",
        ),
        (
            prop(key="id", value=3, type="static-cohort"),
            "Cohort membership can't be evaluated in real-time filters.",
        ),
        (
            prop(key="x", value=[20, 10], operator="between", type="event"),
            "between operator requires min value to be less than or equal to max value",
        ),
        (
            prop(key="x", value=["a", "b"], operator="not_between", type="event"),
            "not_between operator requires numeric values",
        ),
        (
            prop(key="x", value=[1], operator="between", type="event"),
            "between operator requires a two-element array [min, max]",
        ),
        (prop(key="x", value="a", operator="in", type="event"), "IN and NOT IN operators require a list of values"),
        (prop(key="x", value="a", operator="bogus", type="event"), "PropertyOperator bogus not implemented"),
        (prop(key="x", value=3, operator="is_date_before", type="event"), "is_date_before operator requires a date"),
        (
            prop(key="selector", value="a", operator="icontains", type="element"),
            "property_to_expr for element selector only supports exact and is_not operators, not icontains",
        ),
        (
            prop(key="nth", value="a", type="element"),
            "property_to_expr for type element not implemented for key nth",
        ),
        (prop(key="(select 1)", type="hogql"), "Select queries are not allowed in filters"),
        (prop(key="person_id in cohort 4", type="hogql"), "Cohort membership can't be evaluated"),
        (prop(key="unknownFn(1)", type="hogql"), "Hog function `unknownFn` is not implemented"),
        (prop(key="fetch('https://x')", type="hogql"), "Hog function `fetch` is not implemented"),
        (prop(key="1 +", type="hogql"), "mismatched input"),
        (prop(key="v", value="x", operator="semver_tilde", type="event"), "Tilde operator requires a valid semver"),
        (prop(key="v", value="abc", operator="semver_gt", type="event"), "semver_gt operator requires a valid semver"),
        ({"properties": {"type": "XOR", "values": []}}, 'PropertyGroup of unknown type "XOR"'),
        ({"events": "nope"}, "events must be a list"),
    ],
)
def test_compile_errors(filters: dict[str, Any], message: str) -> None:
    assert message in _error(filters)


def test_cohort_error_can_link_to_settings() -> None:
    message = _error(prop(key="id", value=3, type="cohort"), settings_url="https://ph.example/settings")
    assert message.endswith("Update your filters at: https://ph.example/settings")


def test_test_account_cohort_that_cannot_be_inlined() -> None:
    message = _error(
        {"filter_test_accounts": True},
        test_account_filters=[{"key": "id", "value": 4, "type": "cohort"}],
        cohorts={4: {"name": "Staff", "is_static": True}},
    )
    assert message.startswith(
        "Your internal/test user filters include cohorts that can't be used in real-time filters:"
    )
    assert "cohort 'Staff' (id=4) is a static cohort" in message


def test_test_account_cohort_with_behavioural_filters() -> None:
    message = _error(
        {"filter_test_accounts": True},
        test_account_filters=[{"key": "id", "value": 4, "type": "cohort"}],
        cohorts={4: {"name": "Doers", "filters": {"properties": [{"key": "x", "type": "behavioral", "value": 1}]}}},
    )
    assert "contains behavioral filters" in message


def test_unknown_test_account_cohort() -> None:
    message = _error({"filter_test_accounts": True}, test_account_filters=[{"key": "id", "value": 4, "type": "cohort"}])
    assert "cohort id=4 not found" in message
