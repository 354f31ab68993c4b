"""The expression builder produces exactly the parser's JSON AST for the equivalent Hog source."""

from __future__ import annotations

from typing import Any

import pytest

from app.filters import build_filters_expression
from app.filters.elements import selector_regex
from tests.filters.conftest import NOW, flatten, parse


def ev(key: str, value: Any, operator: str | None = "exact", **extra: Any) -> dict[str, Any]:
    prop = {"key": key, "value": value, "type": "event", **extra}
    if operator is not None:
        prop["operator"] = operator
    return prop


def props(*items: dict[str, Any]) -> dict[str, Any]:
    return {"properties": list(items)}


PAGEVIEW = {"id": "$pageview", "name": "$pageview", "type": "events", "order": 0}

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("empty", {}, "true"),
    ("one event", {"events": [PAGEVIEW]}, "event = '$pageview'"),
    (
        "two events",
        {"events": [PAGEVIEW, {"id": "signup", "type": "events"}]},
        "event = '$pageview' or event = 'signup'",
    ),
    ("all events", {"events": [{"id": None, "type": "events"}]}, "true"),
    (
        "event with properties",
        {"events": [{**PAGEVIEW, "properties": [ev("$browser", "Chrome")]}]},
        "event = '$pageview' and properties.$browser = 'Chrome'",
    ),
    (
        "entry without type only contributes properties",
        {"events": [{"id": "x", "properties": [ev("a", "b")]}]},
        "properties.a = 'b'",
    ),
    (
        "global properties and events",
        {"properties": [ev("a", 1), ev("b", 2)], "events": [PAGEVIEW, {"id": "s", "type": "events"}]},
        "properties.a = 1 and properties.b = 2 and (event = '$pageview' or event = 's')",
    ),
    ("unknown action", {"actions": [{"id": 99, "type": "actions"}]}, "1 = 2"),
    ("exact single-element list", props(ev("$browser", ["Chrome"])), "properties.$browser = 'Chrome'"),
    ("exact default operator", props(ev("$browser", "Chrome", None)), "properties.$browser = 'Chrome'"),
    ("exact list", props(ev("$browser", ["Chrome", "Safari"])), "properties.$browser in ('Chrome', 'Safari')"),
    ("exact empty list", props(ev("$browser", [])), "1"),
    ("is_not", props(ev("$browser", "Chrome", "is_not")), "properties.$browser != 'Chrome'"),
    ("is_not list", props(ev("$browser", ["a", "b"], "is_not")), "properties.$browser not in ('a', 'b')"),
    ("in", props(ev("plan", ["pro", "team"], "in")), "properties.plan in ('pro', 'team')"),
    ("not_in", props(ev("plan", ["pro", "team"], "not_in")), "properties.plan not in ('pro', 'team')"),
    (
        "icontains",
        props(ev("$current_url", "pricing", "icontains")),
        "toString(properties.$current_url) ilike '%pricing%'",
    ),
    (
        "not_icontains",
        props(ev("$current_url", ["pricing"], "not_icontains")),
        "toString(properties.$current_url) not ilike '%pricing%'",
    ),
    (
        "icontains list",
        props(ev("x", ["a", "b"], "icontains")),
        "multiSearchAnyCaseInsensitive(toString(properties.x), ['a', 'b']) > 0",
    ),
    (
        "not_icontains list",
        props(ev("x", ["a", "b"], "not_icontains")),
        "multiSearchAnyCaseInsensitive(toString(properties.x), ['a', 'b']) = 0",
    ),
    (
        "icontains_multi",
        props(ev("x", ["a"], "icontains_multi")),
        "multiSearchAnyCaseInsensitive(toString(properties.x), ['a']) > 0",
    ),
    ("regex", props(ev("x", "^a.*", "regex")), "ifNull(match(toString(properties.x), '^a.*'), false)"),
    (
        "not_regex",
        props(ev("x", "^a.*", "not_regex")),
        "ifNull(not(match(toString(properties.x), '^a.*')), true)",
    ),
    (
        "regex list is OR-ed",
        props(ev("x", ["a", "b"], "regex")),
        "ifNull(match(toString(properties.x), 'a'), false) or ifNull(match(toString(properties.x), 'b'), false)",
    ),
    (
        "not_regex list is AND-ed",
        props(ev("x", ["a", "b"], "not_regex")),
        "ifNull(not(match(toString(properties.x), 'a')), true)"
        " and ifNull(not(match(toString(properties.x), 'b')), true)",
    ),
    ("gt", props(ev("count", "10", "gt")), "properties.count > '10'"),
    ("gte", props(ev("count", 10, "gte")), "properties.count >= 10"),
    ("lt", props(ev("count", 10, "lt")), "properties.count < 10"),
    ("lte", props(ev("count", 10, "lte")), "properties.count <= 10"),
    ("min", props(ev("count", 10, "min")), "properties.count >= 10"),
    ("max", props(ev("count", 10, "max")), "properties.count <= 10"),
    ("gt list", props(ev("count", [1, 2], "gt")), "properties.count > 1 or properties.count > 2"),
    ("between", props(ev("count", [1, 20], "between")), "properties.count >= 1 and properties.count <= 20"),
    ("not_between", props(ev("count", [1, 20], "not_between")), "properties.count < 1 or properties.count > 20"),
    ("is_set", props(ev("x", None, "is_set")), "properties.x != null"),
    ("is_not_set", props(ev("x", "is_not_set", "is_not_set")), "properties.x = null"),
    (
        "is_date_before absolute",
        props(ev("d", "2024-01-01", "is_date_before")),
        "toDateTime(toString(properties.d)) < toDateTime('2024-01-01')",
    ),
    (
        "is_date_after relative",
        props(ev("d", "-7d", "is_date_after")),
        "toDateTime(toString(properties.d)) > toDateTime('2024-06-13 12:00:00')",
    ),
    (
        "is_date_exact relative months",
        props(ev("d", "-1m", "is_date_exact")),
        "toDateTime(toString(properties.d)) = toDateTime('2024-05-20 12:00:00')",
    ),
    ("is_cleaned_path_exact", props(ev("$pathname", "/a", "is_cleaned_path_exact")), "properties.$pathname = '/a'"),
    (
        "person property",
        props({"key": "email", "value": "a@b.c", "operator": "exact", "type": "person"}),
        "person.properties.email = 'a@b.c'",
    ),
    (
        "person distinct_id",
        props({"key": "distinct_id", "value": "u1", "operator": "exact", "type": "person"}),
        "person.pdi.distinct_id = 'u1'",
    ),
    (
        "group property",
        props({"key": "name", "value": "Acme", "type": "group", "group_type_index": 2}),
        "group_2.properties.name = 'Acme'",
    ),
    (
        "event_metadata",
        props({"key": "distinct_id", "value": "u1", "type": "event_metadata"}),
        "distinct_id = 'u1'",
    ),
    (
        "workflow variable",
        props({"key": "score", "value": 3, "operator": "gt", "type": "workflow_variable"}),
        "variables.score > 3",
    ),
    (
        "$elements_chain event property",
        props(ev("$elements_chain", "a", "icontains")),
        "toString(elements_chain) ilike '%a%'",
    ),
    (
        "hogql",
        props({"key": "properties.count * 2 > 10", "type": "hogql"}),
        "properties.count * 2 > 10",
    ),
    (
        "element href",
        props({"key": "href", "value": "/pricing", "operator": "exact", "type": "element"}),
        "elements_chain_href = '/pricing'",
    ),
    (
        "element text",
        props({"key": "text", "value": "Sign", "operator": "icontains", "type": "element"}),
        "arrayExists(text -> toString(text) ilike '%Sign%', elements_chain_texts)",
    ),
    (
        "element tag_name",
        props({"key": "tag_name", "value": "button", "operator": "exact", "type": "element"}),
        "elements_chain =~ '(^|;)button(\\\\.|$|;|:)'",
    ),
    (
        "element tag_name is_not list is AND-ed",
        props({"key": "tag_name", "value": ["a", "b"], "operator": "is_not", "type": "element"}),
        "not(elements_chain =~ '(^|;)a(\\\\.|$|;|:)') and not(elements_chain =~ '(^|;)b(\\\\.|$|;|:)')",
    ),
    ("invalid property ignored", props({"key": "x", "type": "event"}), "1"),
    ("unknown type ignored", props({"key": "x", "value": 1, "type": "nope"}), "1"),
    ("group without index ignored", props({"key": "x", "value": 1, "type": "group"}), "1"),
    (
        "invalid property inside a list",
        props(ev("a", 1), {"key": "x", "type": "event"}),
        "properties.a = 1 and 1",
    ),
    (
        "property group OR",
        {"properties": {"type": "OR", "values": [ev("a", 1), ev("b", 2)]}},
        "properties.a = 1 or properties.b = 2",
    ),
    (
        "nested property groups",
        {
            "properties": {
                "type": "AND",
                "values": [
                    {"type": "OR", "values": [ev("a", 1), ev("b", 2)]},
                    {"type": "OR", "values": [ev("c", 3)]},
                    {"type": "AND", "values": []},
                ],
            }
        },
        "(properties.a = 1 or properties.b = 2) and properties.c = 3 and 1",
    ),
    ("boolean value stays a string", props(ev("is_paid", "true")), "properties.is_paid = 'true'"),
    ("real boolean becomes a string", props(ev("is_paid", True)), "properties.is_paid = 'true'"),
    (
        "activity log nested keys",
        {"events": [{"id": "$activity_log_entry_created", "type": "events", "properties": [ev("detail.name", "x")]}]},
        "event = '$activity_log_entry_created' and properties.detail.name = 'x'",
    ),
]


@pytest.mark.parametrize(("filters", "source"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_expression_matches_parsed_source(filters: dict[str, Any], source: str) -> None:
    built = build_filters_expression(filters, now=NOW)
    assert flatten(built) == flatten(parse(source))


def test_single_branch_is_not_wrapped() -> None:
    built = build_filters_expression({"events": [PAGEVIEW]})
    assert built == parse("event = '$pageview'")


def test_test_account_filters_come_first() -> None:
    built = build_filters_expression(
        {"filter_test_accounts": True, "events": [PAGEVIEW]},
        test_account_filters=[{"key": "email", "value": "@posthog.com", "operator": "not_icontains", "type": "person"}],
    )
    expected = "toString(person.properties.email) not ilike '%@posthog.com%' and event = '$pageview'"
    assert built == parse(expected)


def test_test_account_filters_ignored_when_flag_is_off() -> None:
    built = build_filters_expression(
        {"filter_test_accounts": False, "events": [PAGEVIEW]},
        test_account_filters=[{"key": "email", "value": "x", "operator": "exact", "type": "person"}],
    )
    assert built == parse("event = '$pageview'")


def test_test_account_person_cohort_is_inlined() -> None:
    cohorts = {
        7: {
            "name": "Internal",
            "filters": {
                "properties": {
                    "type": "OR",
                    "values": [{"key": "email", "value": "@corp.com", "operator": "icontains", "type": "person"}],
                }
            },
        }
    }
    built = build_filters_expression(
        {"filter_test_accounts": True},
        test_account_filters=[{"key": "id", "value": 7, "type": "cohort", "operator": "not_in"}],
        cohorts=cohorts,
    )
    assert built == parse("not toString(person.properties.email) ilike '%@corp.com%'")


def test_action_steps() -> None:
    action = {
        "id": 5,
        "steps": [
            {"event": "$pageview", "url": "/pricing", "url_matching": "contains"},
            {"event": "$autocapture", "selector": "button.primary", "text": "Sign up", "text_matching": "exact"},
            {"event": "signup", "properties": [ev("plan", "pro")]},
            {"url": "^https://", "url_matching": "regex"},
        ],
    }
    built = build_filters_expression({"actions": [{"id": 5, "type": "actions"}]}, actions={5: action})
    regex = selector_regex("button.primary").replace("\\", "\\\\")
    expected = (
        "(event = '$pageview' and properties.$current_url like '%/pricing%')"
        f" or (event = '$autocapture' and elements_chain =~ '{regex}'"
        " and arrayExists(x -> x = 'Sign up', elements_chain_texts))"
        " or (event = 'signup' and properties.plan = 'pro')"
        " or properties.$current_url =~ '^https://'"
    )
    assert flatten(built) == flatten(parse(expected))


def test_action_ids_match_as_strings_or_ints() -> None:
    action = {"steps": [{"event": "signup"}]}
    assert build_filters_expression({"actions": [{"id": "5", "type": "actions"}]}, actions={5: action}) == parse(
        "event = 'signup'"
    )
    assert build_filters_expression({"actions": [{"id": 5, "type": "actions"}]}, actions={"5": action}) == parse(
        "event = 'signup'"
    )


def test_relative_dates_use_the_team_timezone() -> None:
    # 2024-06-20 12:00 UTC is 14:00 in Berlin; the start of that Berlin day is 2024-06-19 22:00 UTC.
    built = build_filters_expression(props(ev("d", "-0dStart", "is_date_after")), timezone="Europe/Berlin", now=NOW)
    assert built == parse("toDateTime(toString(properties.d)) > toDateTime('2024-06-19 22:00:00')")


def test_boolean_values_for_known_boolean_properties() -> None:
    built = build_filters_expression(props(ev("is_paid", "true")), property_types={("event", "is_paid"): "Boolean"})
    assert built == parse("properties.is_paid = true")


def test_path_cleaning_rules_apply_to_the_constant() -> None:
    built = build_filters_expression(
        props(ev("$pathname", "/user/123", "is_cleaned_path_exact")),
        path_cleaning_filters=[{"regex": r"/user/\d+", "alias": "/user/<id>"}],
    )
    assert built == parse("replaceRegexpAll(properties.$pathname, '/user/\\\\d+', '/user/<id>') = '/user/<id>'")
