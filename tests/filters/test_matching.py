"""End to end: filters → compile → Hog VM against globals built from a sample event.

Every case runs on the fast path (`app.hog.fastpath`) and on the VM alone, and the two must agree.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.filters import FilterResult, build_filter_globals, compile_filters, evaluate_filters
from tests.filters.conftest import (
    NOW,
    SAMPLE_EVENT,
    SAMPLE_GROUPS,
    SAMPLE_PERSON,
    SAMPLE_VARIABLES,
    assert_fast_path_agrees,
)

AUTOCAPTURE = {**SAMPLE_EVENT, "event": "$autocapture"}

ACTIONS: dict[int, dict[str, Any]] = {
    1: {
        "id": 1,
        "name": "Viewed pricing",
        "steps": [{"event": "$pageview", "url": "/pricing", "url_matching": "contains"}],
    },
    2: {
        "id": 2,
        "name": "Clicked sign up",
        "steps": [
            {
                "event": "$autocapture",
                "selector": "form > button.primary",
                "text": "Sign up now",
                "text_matching": "exact",
            }
        ],
    },
    3: {
        "id": 3,
        "name": "Signed up or viewed pro",
        "steps": [
            {"event": "signed_up"},
            {"event": "$pageview", "properties": [{"key": "plan", "value": "pro", "type": "event"}]},
        ],
    },
    4: {"id": 4, "name": "Exact url", "steps": [{"url": "https://example.com/pricing", "url_matching": "exact"}]},
    5: {"id": 5, "name": "Regex url", "steps": [{"url": "^https://example\\.com/pri", "url_matching": "regex"}]},
    6: {
        "id": 6,
        "name": "Clicked href",
        "steps": [{"event": "$autocapture", "href": "/pri", "href_matching": "contains", "tag_name": "a"}],
    },
}

TEST_ACCOUNT_FILTERS = [{"key": "email", "value": "@posthog.com", "operator": "not_icontains", "type": "person"}]


def ev(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "event"}


def person(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "person"}


def element(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "element"}


def group(index: int, key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "group", "group_type_index": index}


def meta(key: str, value: Any, operator: str = "exact") -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "event_metadata"}


def P(*items: dict[str, Any]) -> dict[str, Any]:
    return {"properties": list(items)}


def events(*ids: str | None, **extra: Any) -> dict[str, Any]:
    return {"events": [{"id": i, "name": i, "type": "events"} for i in ids], **extra}


# (id, filters, expected match, overrides: event / person / kwargs for compile_filters)
CASES: list[tuple[str, dict[str, Any], bool, dict[str, Any]]] = [
    # events
    ("event matches", events("$pageview"), True, {}),
    ("event does not match", events("signed_up"), False, {}),
    ("one of several events", events("signed_up", "$pageview"), True, {}),
    ("all events (null id)", events(None), True, {}),
    (
        "event with matching property",
        {"events": [{"id": "$pageview", "type": "events", "properties": [ev("$browser", "Chrome")]}]},
        True,
        {},
    ),
    (
        "event with failing property",
        {"events": [{"id": "$pageview", "type": "events", "properties": [ev("$browser", "Safari")]}]},
        False,
        {},
    ),
    (
        "second event branch with its own properties",
        {
            "events": [
                {"id": "$pageview", "type": "events", "properties": [ev("$browser", "Safari")]},
                {"id": None, "type": "events", "properties": [ev("$os", "Mac OS X")]},
            ]
        },
        True,
        {},
    ),
    ("global property and event", events("$pageview", properties=[ev("plan", "pro")]), True, {}),
    ("global property fails", events("$pageview", properties=[ev("plan", "free")]), False, {}),
    # exact / is_not / in
    ("exact", P(ev("$browser", "Chrome")), True, {}),
    ("exact one-element list", P(ev("$browser", ["Chrome"])), True, {}),
    ("exact list any", P(ev("$browser", ["Firefox", "Chrome"])), True, {}),
    ("exact list none", P(ev("$browser", ["Firefox", "Safari"])), False, {}),
    ("exact missing property", P(ev("missing", "x")), False, {}),
    ("exact empty list is a placeholder", P(ev("$browser", [])), False, {}),
    ("exact number vs numeric string", P(ev("count", "15")), True, {}),
    ("exact numeric string vs number", P(ev("count_str", 15)), True, {}),
    ("exact float", P(ev("price", 9.99)), True, {}),
    ("exact is case sensitive", P(ev("$browser", "chrome")), False, {}),
    ("is_not", P(ev("$browser", "Safari", "is_not")), True, {}),
    ("is_not same value", P(ev("$browser", "Chrome", "is_not")), False, {}),
    ("is_not missing property", P(ev("missing", "x", "is_not")), True, {}),
    ("is_not list", P(ev("$browser", ["Chrome", "Safari"], "is_not")), False, {}),
    ("in", P(ev("plan", ["pro", "team"], "in")), True, {}),
    ("not_in", P(ev("plan", ["pro", "team"], "not_in")), False, {}),
    ("not_in other values", P(ev("plan", ["free"], "not_in")), True, {}),
    # contains
    ("icontains case insensitive", P(ev("$current_url", "PRICING", "icontains")), True, {}),
    ("icontains list", P(ev("$current_url", ["nope", "pricing"], "icontains")), True, {}),
    ("icontains list none", P(ev("$current_url", ["nope", "zzz"], "icontains")), False, {}),
    ("icontains wildcard", P(ev("$current_url", "example%pro", "icontains")), True, {}),
    ("not_icontains", P(ev("$current_url", "pricing", "not_icontains")), False, {}),
    ("not_icontains missing property", P(ev("missing", "x", "not_icontains")), True, {}),
    ("icontains on missing matches text null", P(ev("missing", "nul", "icontains")), True, {}),
    ("not_icontains list", P(ev("$current_url", ["nope", "zzz"], "not_icontains")), True, {}),
    ("icontains_multi", P(ev("$current_url", ["foo", "EXAMPLE"], "icontains_multi")), True, {}),
    ("not_icontains_multi", P(ev("$current_url", ["foo", "bar"], "not_icontains_multi")), True, {}),
    ("not_icontains_multi found", P(ev("$current_url", ["foo", "pricing"], "not_icontains_multi")), False, {}),
    # regex
    ("regex", P(ev("$current_url", "^https://example\\.com/pri", "regex")), True, {}),
    ("regex unanchored", P(ev("utm_source", "letter_\\d+", "regex")), True, {}),
    ("regex no match", P(ev("$current_url", "^http://", "regex")), False, {}),
    ("regex missing property", P(ev("missing", "^a", "regex")), False, {}),
    ("not_regex", P(ev("$current_url", "^http://", "not_regex")), True, {}),
    ("regex list any", P(ev("$current_url", ["^x", "pricing"], "regex")), True, {}),
    ("not_regex list all", P(ev("$current_url", ["^x", "pricing"], "not_regex")), False, {}),
    # ordering
    ("gt", P(ev("count", 10, "gt")), True, {}),
    ("gt numeric string value", P(ev("count", "10", "gt")), True, {}),
    ("gt numeric string property", P(ev("count_str", 9, "gt")), True, {}),
    ("string vs string compares as text", P(ev("count_str", "9", "gt")), False, {}),
    ("lt", P(ev("count", 10, "lt")), False, {}),
    ("gte equal", P(ev("count", 15, "gte")), True, {}),
    ("lte float", P(ev("price", 9.99, "lte")), True, {}),
    ("min", P(ev("count", 15, "min")), True, {}),
    ("max", P(ev("count", 14, "max")), False, {}),
    ("gt missing property", P(ev("missing", 1, "gt")), False, {}),
    ("between", P(ev("count", [10, 20], "between")), True, {}),
    ("between outside", P(ev("count", [16, 20], "between")), False, {}),
    ("not_between", P(ev("count", [16, 20], "not_between")), True, {}),
    ("between inclusive bounds", P(ev("count", [15, 15], "between")), True, {}),
    # set / not set
    ("is_set", P(ev("$browser", None, "is_set")), True, {}),
    ("is_set missing", P(ev("missing", None, "is_set")), False, {}),
    ("is_not_set missing", P(ev("missing", None, "is_not_set")), True, {}),
    ("is_set null value", P(ev("nullish", None, "is_set")), False, {}),
    ("is_set empty string", P(ev("empty", None, "is_set")), True, {}),
    # dates
    ("is_date_before absolute", P(ev("signup_date", "2024-06-10", "is_date_before")), True, {}),
    ("is_date_after absolute", P(ev("signup_date", "2024-06-10", "is_date_after")), False, {}),
    ("is_date_after relative days", P(ev("signup_date", "-30d", "is_date_after")), True, {}),
    ("is_date_before relative days", P(ev("signup_date", "-7d", "is_date_before")), True, {}),
    ("is_date_after relative hours", P(ev("signup_date", "-2h", "is_date_after")), False, {}),
    ("is_date_after relative months", P(ev("signup_date", "-1m", "is_date_after")), True, {}),
    ("is_date_exact", P(ev("signup_date", "2024-06-01T10:00:00Z", "is_date_exact")), True, {}),
    ("timestamp after a week ago", P(meta("timestamp", "-1w", "is_date_after")), True, {}),
    ("is_date_exact on a missing property", P(ev("missing", "2024-06-01", "is_date_exact")), False, {}),
    ("is_date_before on a missing property", P(ev("missing", "2024-06-01", "is_date_before")), False, {}),
    # person / groups / metadata / variables
    ("person property", P(person("email", "@example.com", "icontains")), True, {}),
    ("person property number", P(person("age", 30, "gt")), True, {}),
    ("person distinct_id", P(person("distinct_id", "user-1")), True, {}),
    ("person property without person", P(person("plan", "pro")), False, {"person": None}),
    ("person is_not_set without person", P(person("plan", None, "is_not_set")), True, {"person": None}),
    ("group 0 property", P(group(0, "name", "Acme")), True, {}),
    ("group 2 property", P(group(2, "tier", "gold")), True, {}),
    ("group 1 missing", P(group(1, "name", "Acme")), False, {}),
    ("group property gt", P(group(0, "employees", 100, "gt")), True, {}),
    ("event metadata distinct_id", P(meta("distinct_id", "user-1")), True, {}),
    ("event metadata event", P(meta("event", ["$pageview", "x"])), True, {}),
    ("event metadata group key", P(meta("$group_0", "acme")), True, {}),
    ("event metadata person_id", P(meta("person_id", SAMPLE_PERSON["id"])), True, {}),
    (
        "workflow variable",
        P({"key": "score", "value": 5, "operator": "gt", "type": "workflow_variable"}),
        True,
        {},
    ),
    # elements
    ("selector", P(element("selector", "button.primary")), True, {}),
    ("selector child", P(element("selector", "form > button")), True, {}),
    ("selector wrong parent", P(element("selector", "div > button")), False, {}),
    ("selector id", P(element("selector", "#signup-btn")), True, {}),
    ("selector attribute", P(element("selector", "[data-attr='signup']")), True, {}),
    ("selector is_not", P(element("selector", "table", "is_not")), True, {}),
    ("tag_name", P(element("tag_name", "form")), True, {}),
    ("tag_name missing", P(element("tag_name", "table")), False, {}),
    ("tag_name list", P(element("tag_name", ["table", "form"])), True, {}),
    ("href", P(element("href", "/pricing")), True, {}),
    ("href regex", P(element("href", "^/pri", "regex")), True, {}),
    ("text exact", P(element("text", "Sign up now")), True, {}),
    ("text icontains", P(element("text", "PRIC", "icontains")), True, {}),
    ("text regex", P(element("text", "^Sign", "regex")), True, {}),
    ("text no match", P(element("text", "Log in")), False, {}),
    ("elements_chain event property", P(ev("$elements_chain", "signup-form", "icontains")), True, {}),
    ("element filter without chain", P(element("tag_name", "form")), False, {"event": {"elements_chain": ""}}),
    # actions
    ("action url contains", {"actions": [{"id": 1, "type": "actions"}]}, True, {}),
    ("action autocapture on a pageview", {"actions": [{"id": 2, "type": "actions"}]}, False, {}),
    ("action autocapture", {"actions": [{"id": 2, "type": "actions"}]}, True, {"event": AUTOCAPTURE}),
    ("action second step", {"actions": [{"id": 3, "type": "actions"}]}, True, {}),
    ("action url exact", {"actions": [{"id": 4, "type": "actions"}]}, False, {}),
    ("action url regex", {"actions": [{"id": 5, "type": "actions"}]}, True, {}),
    ("action href contains", {"actions": [{"id": 6, "type": "actions"}]}, True, {"event": AUTOCAPTURE}),
    ("unknown action", {"actions": [{"id": 404, "type": "actions"}]}, False, {}),
    (
        "action with its own properties",
        {"actions": [{"id": 1, "type": "actions", "properties": [ev("$browser", "Safari")]}]},
        False,
        {},
    ),
    (
        "action or event",
        {"actions": [{"id": 404, "type": "actions"}], "events": [{"id": "$pageview", "type": "events"}]},
        True,
        {},
    ),
    # property groups
    ("group OR", {"properties": {"type": "OR", "values": [ev("plan", "free"), ev("plan", "pro")]}}, True, {}),
    ("group AND", {"properties": {"type": "AND", "values": [ev("plan", "free"), ev("plan", "pro")]}}, False, {}),
    (
        "nested groups",
        {
            "properties": {
                "type": "AND",
                "values": [
                    {"type": "OR", "values": [ev("plan", "free"), ev("$browser", "Chrome")]},
                    {"type": "AND", "values": [person("name", "Alice")]},
                ],
            }
        },
        True,
        {},
    ),
    ("empty group is a placeholder", {"properties": {"type": "AND", "values": []}}, False, {}),
    # test accounts
    (
        "test accounts pass",
        events("$pageview", filter_test_accounts=True),
        True,
        {"kwargs": {"test_account_filters": TEST_ACCOUNT_FILTERS}},
    ),
    (
        "test account excluded",
        events("$pageview", filter_test_accounts=True),
        False,
        {
            "kwargs": {
                "test_account_filters": [
                    {"key": "email", "value": "@example.com", "operator": "not_icontains", "type": "person"}
                ]
            }
        },
    ),
    (
        "test account cohort inlined",
        events("$pageview", filter_test_accounts=True),
        False,
        {
            "kwargs": {
                "test_account_filters": [{"key": "id", "value": 9, "type": "cohort", "operator": "not_in"}],
                "cohorts": {
                    9: {
                        "name": "Has email",
                        "filters": {"properties": {"type": "AND", "values": [person("email", None, "is_set")]}},
                    }
                },
            }
        },
    ),
    # placeholders and booleans
    ("only an invalid property", P({"key": "x", "type": "event"}), False, {}),
    ("invalid next to a valid property", P({"key": "x", "type": "event"}, ev("plan", "pro")), True, {}),
    ("boolean property vs 'true'", P(ev("is_paid", "true")), True, {}),
    ("boolean property vs 'false'", P(ev("is_paid", "false")), False, {}),
    ("string property vs boolean value", P(ev("flag_str", True)), True, {}),
    (
        "known boolean property",
        P(ev("is_paid", "true")),
        True,
        {"kwargs": {"property_types": {("event", "is_paid"): "Boolean"}}},
    ),
    # semver
    ("semver_gt", P(ev("app_version", "1.4.0", "semver_gt")), True, {}),
    ("semver_lt numeric parts", P(ev("app_version", "1.10.0", "semver_lt")), True, {}),
    ("semver_eq", P(ev("app_version", "1.4.2", "semver_eq")), True, {}),
    ("semver_neq", P(ev("app_version", "1.4.2", "semver_neq")), False, {}),
    ("semver_gte", P(ev("app_version", "1.4.3", "semver_gte")), False, {}),
    ("semver_lte", P(ev("app_version", "1.4", "semver_lte")), False, {}),
    ("semver_tilde", P(ev("app_version", "1.4.0", "semver_tilde")), True, {}),
    ("semver_caret", P(ev("app_version", "1.0.0", "semver_caret")), True, {}),
    ("semver_caret zero major with prefix", P(ev("old_version", "0.9.0", "semver_caret")), True, {}),
    ("semver_wildcard", P(ev("app_version", "1.*", "semver_wildcard")), True, {}),
    ("semver_wildcard minor", P(ev("app_version", "1.3.*", "semver_wildcard")), False, {}),
    ("semver on missing property", P(ev("missing", "1.0.0", "semver_gte")), False, {}),
    ("semver on a non-version", P(ev("$browser", "1.0.0", "semver_gte")), False, {}),
    # misc
    ("hogql", P({"key": "properties.count * 2 > 20", "type": "hogql"}), True, {}),
    ("hogql false", P({"key": "properties.count > 20", "type": "hogql"}), False, {}),
    ("cleaned path", P(ev("$pathname", "/pricing", "is_cleaned_path_exact")), True, {}),
    (
        "activity log nested property",
        {
            "events": [
                {
                    "id": "$activity_log_entry_created",
                    "type": "events",
                    "properties": [ev("detail.name", "My flow")],
                }
            ]
        },
        True,
        {
            "event": {
                "event": "$activity_log_entry_created",
                "properties": {"detail": {"name": "My flow"}},
            }
        },
    ),
]


def run(filters: dict[str, Any], overrides: dict[str, Any]) -> FilterResult:
    event = {**SAMPLE_EVENT, **overrides.get("event", {})}
    person = overrides.get("person", SAMPLE_PERSON)
    compiled = compile_filters(filters, actions=ACTIONS, now=NOW, **overrides.get("kwargs", {}))
    globals_ = build_filter_globals(event, person, SAMPLE_GROUPS, SAMPLE_VARIABLES)
    if compiled.get("bytecode"):
        assert_fast_path_agrees(compiled["bytecode"], globals_)
    return evaluate_filters(compiled, globals_)


def _params() -> list[Any]:
    params = []
    for name, filters, expected, overrides in CASES:
        params.append(pytest.param(filters, expected, overrides, id=name))
    return params


@pytest.mark.parametrize(("filters", "expected", "overrides"), _params())
def test_filter_matches(filters: dict[str, Any], expected: bool, overrides: dict[str, Any]) -> None:
    result = run(filters, overrides)
    assert result.error is None
    assert result.matched is expected


def test_case_count() -> None:
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


def test_most_cases_run_on_the_fast_path() -> None:
    """The comparison above is not vacuous: the fast path runs nearly every case itself."""
    fast = 0
    for _name, filters, _expected, overrides in CASES:
        event = {**SAMPLE_EVENT, **overrides.get("event", {})}
        compiled = compile_filters(filters, actions=ACTIONS, now=NOW, **overrides.get("kwargs", {}))
        globals_ = build_filter_globals(event, overrides.get("person", SAMPLE_PERSON), SAMPLE_GROUPS, SAMPLE_VARIABLES)
        fast += assert_fast_path_agrees(compiled["bytecode"], globals_)
    # Only element text/autocapture-action cases use lambdas (`arrayExists`), which go to the VM.
    assert fast >= len(CASES) - 8
