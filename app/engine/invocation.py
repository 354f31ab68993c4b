"""A run as the engine sees it: the flow, the run state, the person, and what a pickup produced.

`state` has PostHog's shape (`HogFlowInvocationContext`) so it can be stored as one JSON value:
`{event, actionStepCount, variables, personId?, currentAction?: {id, startedAtTimestamp, ...}}`.
"""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.engine.graph import FlowSnapshot
from app.engine.records import LogRecord, MetricRecord, StepRecord
from app.engine.waits import WaitRegistration, Wake
from app.filters import build_filter_globals


def default_variables(declared: Iterable[Any] | None) -> dict[str, Any]:
    """A flow's declared variables at their defaults. PostHog uses `default or null`, so falsy
    defaults (`""`, `0`) become null."""
    return {
        item["key"]: item.get("default") or None
        for item in declared or []
        if isinstance(item, dict) and item.get("key")
    }


def initial_state(
    event: dict[str, Any], defaults: Mapping[str, Any], variables: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A new run's state: the only place that builds it (manual, test, webhook, event, batch and
    scheduled runs). `defaults` is `default_variables(...)` of the flow; `variables` override them."""
    return {"event": event, "actionStepCount": 0, "variables": {**defaults, **(variables or {})}}


def to_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_millis(millis: int | float) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


@dataclass
class Invocation:
    id: str
    flow: FlowSnapshot
    state: dict[str, Any]
    person: dict[str, Any] | None = None
    groups: dict[str, Any] = field(default_factory=dict)
    parent_run_id: str | None = None
    # Asked between steps: has someone requested this run be cancelled? (None: never cancelled.)
    cancel_check: Callable[[], Awaitable[bool]] | None = None
    # Registrations that events matched since the run parked (see app.engine.waits).
    woken_by: list[Wake] = field(default_factory=list)

    @property
    def team_id(self) -> int:
        return self.flow.team_id

    @property
    def source_id(self) -> str:
        """Logs and metrics of a batch run belong to the batch job (PostHog's parentRunId)."""
        return self.parent_run_id or self.flow.id

    @property
    def event(self) -> dict[str, Any]:
        event = self.state.get("event")
        return event if isinstance(event, dict) else {}

    @property
    def variables(self) -> dict[str, Any]:
        variables = self.state.setdefault("variables", {})
        return variables if isinstance(variables, dict) else {}

    @property
    def current_action(self) -> dict[str, Any] | None:
        current = self.state.get("currentAction")
        return current if isinstance(current, dict) else None

    @property
    def step_count(self) -> int:
        return int(self.state.get("actionStepCount") or 0)

    def current_started_at(self) -> datetime:
        current = self.current_action or {}
        return from_millis(current.get("startedAtTimestamp") or 0)

    def move_to(self, action_id: str, now: datetime, *, count_step: bool = True) -> None:
        """Entering an action drops every bit of the previous step's bookkeeping."""
        self.state["currentAction"] = {"id": action_id, "startedAtTimestamp": to_millis(now)}
        self.state["actionStepCount"] = self.step_count + (1 if count_step else 0)

    def woken(self, kind: str) -> Wake | None:
        return next((wake for wake in self.woken_by if wake.kind == kind), None)

    def filter_globals(self, *, with_variables: bool) -> dict[str, Any]:
        return build_filter_globals(self.event, self.person, self.groups, self.variables if with_variables else None)


@dataclass
class Outcome:
    """What one pickup of a run produced; the worker persists it in one transaction."""

    status: str  # queued | waiting | completed | failed | cancelled
    state: dict[str, Any]
    next_run_at: datetime | None = None
    error: str | None = None
    logs: list[LogRecord] = field(default_factory=list)
    metrics: list[MetricRecord] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    exec_result: Any = None
    # The current step's registrations: None leaves them as stored, a list replaces them ([] clears).
    step_waits: list[WaitRegistration] | None = None
    # Conversion registrations, made once on the run's first pickup.
    conversion_waits: list[WaitRegistration] = field(default_factory=list)
