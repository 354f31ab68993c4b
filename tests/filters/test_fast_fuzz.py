"""Fuzz: random filters over random events, the fast path against the VM alone (seeded)."""

from __future__ import annotations

import random
from typing import Any

from app.filters import FiltersCompileError, build_filter_globals, compile_filters
from tests.filters.conftest import ELEMENTS_CHAIN, NOW, SAMPLE_GROUPS, assert_fast_path_agrees

OPERATORS = [
    "exact",
    "is_not",
    "icontains",
    "not_icontains",
    "icontains_multi",
    "not_icontains_multi",
    "regex",
    "not_regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "min",
    "max",
    "between",
    "not_between",
    "is_set",
    "is_not_set",
    "in",
    "not_in",
    "is_date_before",
    "is_date_after",
    "is_date_exact",
    "is_cleaned_path_exact",
    "semver_gt",
    "semver_lte",
    "semver_eq",
    "semver_tilde",
    "semver_caret",
    "semver_wildcard",
]
KEYS = ["a", "b", "$browser", "$current_url", "count", "version", "missing", "detail.name"]
VALUES: list[Any] = [None, True, False, 0, 3, 15, -1, 2.5, "15", "3", "Chrome", "chrome", "", "true", "pri"]
VALUES += ["^https?://", "[a-z]+", "1.4.2", "1.*", "2024-06-01", "-7d", "-2h", [1, 2], ["Chrome", "Safari"], [3, 20]]
TYPES = ["event", "event", "person", "event_metadata", "element", "group"]


def _property(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(TYPES)
    entry: dict[str, Any] = {"type": kind, "operator": rng.choice(OPERATORS), "value": rng.choice(VALUES)}
    if kind == "element":
        entry["key"] = rng.choice(["tag_name", "text", "href", "selector"])
        entry["value"] = rng.choice(["a", "button", "Pricing", "/pri", "form > button", ["a", "form"]])
    elif kind == "event_metadata":
        entry["key"] = rng.choice(["distinct_id", "event", "timestamp", "$group_0"])
    else:
        entry["key"] = rng.choice(KEYS)
    if kind == "group":
        entry["group_type_index"] = rng.choice([0, 1, 2])
    return entry


def _filters(rng: random.Random) -> dict[str, Any]:
    properties: Any = [_property(rng) for _ in range(rng.randrange(1, 4))]
    if rng.random() < 0.3:
        properties = {"type": rng.choice(["AND", "OR"]), "values": [{"type": "OR", "values": properties}]}
    filters: dict[str, Any] = {"properties": properties}
    if rng.random() < 0.6:
        filters["events"] = [
            {"id": rng.choice(["$pageview", "signed_up", None]), "type": "events"} for _ in range(rng.randrange(1, 3))
        ]
    return filters


def _event(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any] | None]:
    properties = {key: rng.choice(VALUES) for key in KEYS if key != "missing" and rng.random() < 0.7}
    properties["detail"] = rng.choice([{"name": rng.choice(VALUES)}, None])
    event = {
        "uuid": "0190b0a1-0000-7000-8000-000000000001",
        "event": rng.choice(["$pageview", "signed_up"]),
        "distinct_id": rng.choice(["user-1", "15"]),
        "timestamp": rng.choice(["2024-06-15T12:00:00Z", "2024-06-20T11:00:00Z"]),
        "elements_chain": rng.choice([ELEMENTS_CHAIN, ""]),
        "properties": properties,
    }
    person = rng.choice([None, {"id": "p-1", "properties": {key: rng.choice(VALUES) for key in KEYS[:5]}}])
    return event, person


def test_fuzz_random_filters_agree_with_the_vm() -> None:
    rng = random.Random(12)
    compiled_count = fast = 0
    for _ in range(700):
        try:
            compiled = compile_filters(_filters(rng), now=NOW)
        except FiltersCompileError:
            continue
        compiled_count += 1
        for _ in range(3):
            event, person = _event(rng)
            globals_ = build_filter_globals(event, person, SAMPLE_GROUPS, {})
            fast += assert_fast_path_agrees(compiled["bytecode"], globals_)
    assert compiled_count > 250
    assert fast > compiled_count * 2, (fast, compiled_count)  # most runs really took the fast path
