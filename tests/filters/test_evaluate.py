"""evaluate_filters: short cuts, pre-filter, result handling and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

import app.hog
from app.filters import build_filter_globals, compile_filters, evaluate_filters, passes_event_prefilter
from app.filters.evaluate import NOT_COMPILED_ERROR
from tests.filters.conftest import SAMPLE_EVENT, SAMPLE_PERSON, requires_vm

GLOBALS = build_filter_globals(SAMPLE_EVENT, SAMPLE_PERSON)


@dataclass
class _Result:
    result: Any
    finished: bool = True


@dataclass
class FakeVM:
    outcomes: list[Any]
    calls: list[Any]

    def execute(self, bytecode: list[Any], globals: Any = None, **kwargs: Any) -> _Result:
        self.calls.append(bytecode)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome if isinstance(outcome, _Result) else _Result(outcome)


@pytest.fixture
def fake_vm(monkeypatch: pytest.MonkeyPatch) -> FakeVM:
    """Replace the VM by a stub returning queued results (or raising queued exceptions)."""
    vm = FakeVM([], [])
    monkeypatch.setattr(app.hog, "execute", vm.execute, raising=False)
    return vm


def test_only_bytecode_matches_without_running(fake_vm: FakeVM) -> None:
    result = evaluate_filters({"bytecode": ["_H", 1, 30]}, GLOBALS)
    assert result.matched is True
    assert fake_vm.calls == []


def test_missing_bytecode_is_an_error() -> None:
    result = evaluate_filters({"properties": []}, GLOBALS)
    assert result.matched is False
    assert result.error == NOT_COMPILED_ERROR
    assert evaluate_filters({}, GLOBALS).error == NOT_COMPILED_ERROR
    assert evaluate_filters(None, GLOBALS).error == NOT_COMPILED_ERROR


def test_prefilter_rejects_other_events(fake_vm: FakeVM) -> None:
    compiled = {"events": [{"id": "signed_up", "type": "events"}], "bytecode": ["_H", 1, 29]}
    result = evaluate_filters(compiled, GLOBALS)
    assert (result.matched, result.prefiltered, result.error, result.filtered) == (False, True, None, True)
    assert fake_vm.calls == []


def test_prefilter_passes_on_name_or_null_id(fake_vm: FakeVM) -> None:
    fake_vm.outcomes.extend([True, True])
    for entry_id in ("$pageview", None):
        compiled = {"events": [{"id": "x", "type": "events"}, {"id": entry_id, "type": "events"}], "bytecode": [1]}
        assert evaluate_filters(compiled, GLOBALS).matched is True


def test_prefilter_skipped_with_actions() -> None:
    filters = {"events": [{"id": "signed_up"}], "actions": [{"id": 1}]}
    assert passes_event_prefilter(filters, "$pageview") is None
    assert passes_event_prefilter({"events": []}, "$pageview") is None
    assert passes_event_prefilter({"events": [{"id": "a"}]}, "a") is True


@pytest.mark.parametrize(
    ("value", "matched"), [(True, True), (False, False), (1, False), ("true", False), (None, False)]
)
def test_only_boolean_true_matches(fake_vm: FakeVM, value: Any, matched: bool) -> None:
    fake_vm.outcomes.append(value)
    result = evaluate_filters({"properties": [], "bytecode": ["_H", 1]}, GLOBALS)
    assert result.matched is matched
    assert result.error is None
    assert result.result == value


def test_vm_error_is_reported(fake_vm: FakeVM) -> None:
    fake_vm.outcomes.append(RuntimeError("Unsupported type"))
    result = evaluate_filters({"properties": [], "bytecode": ["_H", 1]}, GLOBALS)
    assert (result.matched, result.error, result.filtered) == (False, "Unsupported type", False)


def test_unfinished_program_is_an_error(fake_vm: FakeVM) -> None:
    fake_vm.outcomes.append(_Result(None, finished=False))
    result = evaluate_filters({"properties": [], "bytecode": ["_H", 1]}, GLOBALS)
    assert result.matched is False
    assert result.error is not None


@requires_vm
def test_placeholder_only_filters_never_match() -> None:
    compiled = compile_filters({"properties": [{"key": "x", "type": "event"}]})
    assert compiled["bytecode"] == ["_H", 1, 33, 1]
    result = evaluate_filters(compiled, GLOBALS)
    assert (result.matched, result.error, result.result) == (False, None, 1)


@requires_vm
def test_real_vm_error_is_caught() -> None:
    result = evaluate_filters({"properties": [], "bytecode": ["_H", 1, 2, "noSuchFunction", 0]}, GLOBALS)
    assert result.matched is False
    assert result.error
