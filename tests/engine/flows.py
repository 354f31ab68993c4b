"""Building flows and runs for engine tests."""

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.engine.executor import ExecutorOptions
from app.engine.graph import FlowSnapshot
from app.engine.invocation import Invocation

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


@dataclass
class Clock:
    """A clock the test moves by hand, so waits are exact and instant."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def action(action_id: str, action_type: str, config: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": action_id, "name": action_id, "type": action_type, "config": config or {}, **extra}


def edge(source: str, target: str, index: int | None = None) -> dict[str, Any]:
    if index is None:
        return {"from": source, "to": target, "type": "continue"}
    return {"from": source, "to": target, "type": "branch", "index": index}


def chain(*ids: str) -> list[dict[str, Any]]:
    return [edge(a, b) for a, b in itertools.pairwise(ids)]


def flow(actions: list[dict[str, Any]], edges: list[dict[str, Any]], **overrides: Any) -> FlowSnapshot:
    values: dict[str, Any] = {
        "id": "flow-1",
        "team_id": 1,
        "status": "active",
        "actions": [action("trigger", "trigger", {"type": "manual"}), *actions],
        "edges": edges,
        "trigger": {"type": "manual"},
        "conversion": None,
        "exit_condition": "exit_only_at_end",
        "variables": [],
    }
    values.update(overrides)
    return FlowSnapshot(**values)


def invocation(snapshot: FlowSnapshot, person: dict[str, Any] | None = None, **state: Any) -> Invocation:
    event = {"uuid": "e-1", "event": "$pageview", "distinct_id": "d-1", "properties": {}, "timestamp": T0.isoformat()}
    return Invocation(
        id="run-1", flow=snapshot, state={"event": event, "actionStepCount": 0, "variables": {}, **state}, person=person
    )


@dataclass
class Options:
    clock: Clock = field(default_factory=Clock)
    draws: list[float] = field(default_factory=list)

    def build(self, **overrides: Any) -> ExecutorOptions:
        return ExecutorOptions(clock=self.clock, random=lambda: self.draws.pop(0), **overrides)


def messages(outcome: Any) -> list[str]:
    return [log.message for log in outcome.logs]


def metric_names(outcome: Any) -> list[tuple[str, str, str | None]]:
    return [(m.metric_kind, m.metric_name, m.instance_id) for m in outcome.metrics]
