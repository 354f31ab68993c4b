"""evaluate_filters: short cuts, pre-filter, result handling and errors, on the real VM."""

from typing import Any

import pytest

from app.filters import build_filter_globals, compile_filters, evaluate_filters, passes_event_prefilter
from app.filters.evaluate import NOT_COMPILED_ERROR
from tests.filters.conftest import SAMPLE_EVENT, SAMPLE_PERSON

GLOBALS = build_filter_globals(SAMPLE_EVENT, SAMPLE_PERSON)
# Bytecode that fails if it ever runs: proves a short cut did not run the program.
EXPLODES = ["_H", 1, 2, "noSuchFunction", 0]


def test_only_bytecode_matches_without_running() -> None:
    result = evaluate_filters({"bytecode": EXPLODES}, GLOBALS)
    assert (result.matched, result.error) == (True, None)


def test_missing_bytecode_is_an_error() -> None:
    result = evaluate_filters({"properties": []}, GLOBALS)
    assert result.matched is False
    assert result.error == NOT_COMPILED_ERROR
    assert evaluate_filters({}, GLOBALS).error == NOT_COMPILED_ERROR
    assert evaluate_filters(None, GLOBALS).error == NOT_COMPILED_ERROR


def test_prefilter_rejects_other_events_without_running() -> None:
    compiled = {"events": [{"id": "signed_up", "type": "events"}], "bytecode": EXPLODES}
    result = evaluate_filters(compiled, GLOBALS)
    assert (result.matched, result.prefiltered, result.error, result.filtered) == (False, True, None, True)


@pytest.mark.parametrize("entry_id", ["$pageview", None])
def test_prefilter_passes_on_name_or_null_id(entry_id: str | None) -> None:
    compiled = {
        "events": [{"id": "x", "type": "events"}, {"id": entry_id, "type": "events"}],
        "bytecode": ["_H", 1, 29],
    }
    assert evaluate_filters(compiled, GLOBALS).matched is True


def test_prefilter_skipped_with_actions() -> None:
    filters = {"events": [{"id": "signed_up"}], "actions": [{"id": 1}]}
    assert passes_event_prefilter(filters, "$pageview") is None
    assert passes_event_prefilter({"events": []}, "$pageview") is None
    assert passes_event_prefilter({"events": [{"id": "a"}]}, "a") is True


@pytest.mark.parametrize(
    ("bytecode", "value", "matched"),
    [
        (["_H", 1, 29], True, True),
        (["_H", 1, 30], False, False),
        (["_H", 1, 33, 1], 1, False),
        (["_H", 1, 32, "true"], "true", False),
        (["_H", 1, 31], None, False),
    ],
)
def test_only_boolean_true_matches(bytecode: list[Any], value: Any, matched: bool) -> None:
    result = evaluate_filters({"properties": [], "bytecode": bytecode}, GLOBALS)
    assert result.matched is matched
    assert result.error is None
    assert result.result == value


def test_vm_error_is_reported() -> None:
    result = evaluate_filters({"properties": [], "bytecode": EXPLODES}, GLOBALS)
    assert result.matched is False
    assert result.error
    assert result.filtered is False


def test_async_call_in_a_filter_is_an_error() -> None:
    result = evaluate_filters({"properties": [], "bytecode": ["_H", 1, 32, "https://x", 2, "fetch", 1]}, GLOBALS)
    assert result.matched is False
    assert result.error == "Filter bytecode did not finish (async calls are not allowed)"


def test_placeholder_only_filters_never_match() -> None:
    compiled = compile_filters({"properties": [{"key": "x", "type": "event"}]})
    assert compiled["bytecode"] == ["_H", 1, 33, 1]
    result = evaluate_filters(compiled, GLOBALS)
    assert (result.matched, result.error, result.result) == (False, None, 1)
