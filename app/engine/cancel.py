"""Ending a run on request (PostHog's invocation cancel): the log line and metric it leaves.

A parked run is ended by the API at once; a run a worker holds is ended by the worker at its next
step boundary (the executor asks `Invocation.cancel_check` between steps) or, when the request
arrives after the last boundary of a pickup, when the pickup's result is stored.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from app.engine.invocation import Invocation, Outcome
from app.engine.records import LogRecord, MetricRecord

CANCEL_MESSAGE = "Workflow run canceled by request"


def cancel_records(
    team_id: int, source_id: str, run_id: str, action_id: str | None, now: datetime
) -> tuple[LogRecord, MetricRecord]:
    at = f" at [Action:{action_id}]" if action_id else ""
    log = LogRecord(team_id, source_id, run_id, now, "info", f"{CANCEL_MESSAGE}{at}")
    metric = MetricRecord(team_id, source_id, action_id, "other", "canceled", now)
    return log, metric


def cancelled_outcome(invocation: Invocation, clock: Callable[[], datetime]) -> Outcome:
    action_id = (invocation.current_action or {}).get("id")
    log, metric = cancel_records(invocation.team_id, invocation.source_id, invocation.id, action_id, clock())
    return Outcome(status="cancelled", state=invocation.state, logs=[log], metrics=[metric])


def cancelled_late(
    team_id: int, source_id: str, run_id: str, outcome: Outcome, clock: Callable[[], datetime]
) -> Outcome:
    """A pickup's outcome when its cancel arrived after its last step boundary: it ends the run instead."""
    action_id = (outcome.state.get("currentAction") or {}).get("id")
    log, metric = cancel_records(team_id, source_id, run_id, action_id, clock())
    return replace(
        outcome,
        status="cancelled",
        next_run_at=None,
        logs=[*outcome.logs, log],
        metrics=[*outcome.metrics, metric],
    )
