"""Evaluate compiled filters against filter globals (`filterFunctionInstrumented`, executor.md §3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.hog import HogTimeoutError, Limits, execute
from app.hog.fastpath import FastPathUnavailable, fast_program

NOT_COMPILED_ERROR = "Filters were not compiled correctly and so could not be executed"


@dataclass(frozen=True)
class FilterResult:
    # True only when the bytecode returned the boolean `true` (or there is nothing to filter on).
    matched: bool
    # The error message when evaluation failed (metric `filtering_failed`); None otherwise.
    error: str | None = None
    # True when the event-name pre-filter rejected the event without running the bytecode.
    prefiltered: bool = False
    # The raw program result (for debugging), when the bytecode ran.
    result: Any = None

    @property
    def filtered(self) -> bool:
        """A non-match without error (metric `filtered`)."""
        return not self.matched and self.error is None


# Shared answers for the common outcomes: a frozen dataclass is slow to build (fast path).
_MATCHED = FilterResult(matched=True, result=True)
_NOT_MATCHED = FilterResult(matched=False, result=False)


def passes_event_prefilter(filters: Mapping[str, Any], event_name: Any) -> bool | None:
    """The event-name pre-filter: None when it doesn't apply, else whether the event may match.

    It applies when there are event entries and no action entries; the event passes when an
    entry has a null id (all events) or the event's name as id.
    """
    events = filters.get("events")
    actions = filters.get("actions")
    if not isinstance(events, list) or not events or (isinstance(actions, list) and actions):
        return None
    for entry in events:
        if not isinstance(entry, Mapping):
            continue
        entry_id = entry.get("id")
        if entry_id is None or entry_id == event_name:
            return True
    return False


def evaluate_filters(
    compiled: Mapping[str, Any] | None,
    globals: Mapping[str, Any],
    *,
    limits: Limits | None = None,
    functions: Mapping[str, Any] | None = None,
) -> FilterResult:
    """Run a compiled filters object (with `bytecode`) against filter globals."""
    answered = _without_bytecode(compiled, globals)
    if answered is not None:
        return answered
    bytecode = (compiled or {})["bytecode"]
    return run_filter_bytecode(bytecode, globals, limits=limits, functions=functions)


def evaluate_filters_fast(
    compiled: Mapping[str, Any] | None, globals: Mapping[str, Any], *, limits: Limits | None = None
) -> FilterResult | None:
    """`evaluate_filters` when it can answer without the VM (shortcuts and the fast path), else None:
    the caller runs `evaluate_filters` where VM time does no harm (e.g. off the event loop)."""
    answered = _without_bytecode(compiled, globals)
    if answered is not None:
        return answered
    return _run_fast((compiled or {})["bytecode"], globals, limits)


def _without_bytecode(compiled: Mapping[str, Any] | None, globals: Mapping[str, Any]) -> FilterResult | None:
    filters = compiled if isinstance(compiled, Mapping) else {}
    if len(filters) == 1 and "bytecode" in filters:
        # Nothing to filter on: everything matches without running anything.
        return FilterResult(matched=True)
    if passes_event_prefilter(filters, globals.get("event")) is False:
        return FilterResult(matched=False, prefiltered=True)
    if not filters.get("bytecode"):
        return FilterResult(matched=False, error=NOT_COMPILED_ERROR)
    return None


def run_filter_bytecode(
    bytecode: list[Any],
    globals: Mapping[str, Any],
    *,
    limits: Limits | None = None,
    functions: Mapping[str, Any] | None = None,
) -> FilterResult:
    """Run filter bytecode; it matches only when the result is exactly boolean `true`.

    Bytecode the fast path (`app.hog.fastpath`) supports runs as compiled Python with the VM's
    exact results; anything else, and any run it hands over, runs on the VM.
    """
    if not functions:
        result = _run_fast(bytecode, globals, limits)
        if result is not None:
            return result
    return run_filter_bytecode_on_vm(bytecode, globals, limits=limits, functions=functions)


def _run_fast(bytecode: Any, globals: Mapping[str, Any], limits: Limits | None) -> FilterResult | None:
    program = fast_program(bytecode)
    if program is None:
        return None
    try:
        result = program.run(globals, limits)
    except FastPathUnavailable:
        return None
    except HogTimeoutError as exc:
        return FilterResult(matched=False, error=str(exc))
    if result is True:
        return _MATCHED
    if result is False:
        return _NOT_MATCHED
    return FilterResult(matched=False, result=result)


def run_filter_bytecode_on_vm(
    bytecode: list[Any],
    globals: Mapping[str, Any],
    *,
    limits: Limits | None = None,
    functions: Mapping[str, Any] | None = None,
) -> FilterResult:
    """`run_filter_bytecode` on the VM only: the reference the fast path is tested against."""
    try:
        outcome = execute(bytecode, dict(globals), functions=dict(functions or {}), limits=limits)
    except Exception as exc:  # a broken filter must never break event processing: it counts as failed
        return FilterResult(matched=False, error=str(exc) or type(exc).__name__)
    if not outcome.finished:
        return FilterResult(matched=False, error="Filter bytecode did not finish (async calls are not allowed)")
    return FilterResult(matched=outcome.result is True, result=outcome.result)
