"""`conditional_branch` (conditions re-checked at least every 10 minutes while it waits) and
`wait_until_condition` (woken by events and person changes, never polled)."""

from datetime import UTC, datetime, timedelta
from typing import Any

from app.engine.actions.base import ActionContext, ActionError, ActionResult
from app.engine.durations import DurationError, parse_duration, scheduled_at
from app.engine.filtering import evaluate_step_filters
from app.engine.invocation import Invocation
from app.engine.waits import (
    CONDITION,
    EVENT,
    WaitRegistration,
    correlation_key,
    event_names,
    person_only,
    registrations_for,
)

BRANCH_POLL = timedelta(minutes=10)
# A wait without a deadline parks this long at a time (it re-parks; events still wake it at once).
INDEFINITE_WAIT = timedelta(days=30)
NO_CORRELATION = "\u0000no-correlation"


async def _matches(invocation: Invocation, condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    filters = condition.get("filters")
    # A condition with nothing compiled to test cannot match (else an empty wait would pass at once).
    if not isinstance(filters, dict) or not filters.get("bytecode"):
        return False
    # Filter errors count as a non-match.
    return (await evaluate_step_filters(filters, invocation.filter_globals(with_variables=True))).matched


def _wake(duration: Any, invocation: Invocation, context: ActionContext) -> Any:
    try:
        return scheduled_at(duration, invocation.current_started_at(), context.now, BRANCH_POLL)
    except DurationError as error:
        raise ActionError(str(error)) from error


async def conditional_branch(invocation: Invocation, action: dict[str, Any], context: ActionContext) -> ActionResult:
    config = action.get("config") or {}
    conditions = config.get("conditions")
    conditions = conditions if isinstance(conditions, list) else []
    for index, condition in enumerate(conditions):
        if await _matches(invocation, condition):
            return ActionResult(
                next_action=invocation.flow.next_action(action["id"], branch=index),
                result={"conditionResult": {"index": index, "name": condition.get("name")}},
            )
    if config.get("delay_duration"):
        wake = _wake(config["delay_duration"], invocation, context)
        if wake is not None:
            return ActionResult(scheduled_at=wake)
    return ActionResult(next_action=invocation.flow.next_action(action["id"]))


async def wait_until_condition(invocation: Invocation, action: dict[str, Any], context: ActionContext) -> ActionResult:
    """Wait for a property condition or an event, until `max_wait_duration` (PostHog's current handler).

    Nothing polls: the run registers what it waits for (an event of its person, or any change to its
    person when it has a condition) and parks until its deadline; the capture pipeline wakes it early.
    A match takes the `branch` edge 0 (a matched event is the step's result), the deadline the
    `continue` edge.
    """
    config = action.get("config") or {}
    action_id = action["id"]
    current = invocation.current_action or {}
    parked = current.get("waitingForEvent") is True
    woken = invocation.woken(EVENT) if parked else None
    if woken is not None:
        name = woken.event.get("event")
        context.recorder.log("info", f"[Action:{action_id}] Event '{name}' matched - taking the matched path")
        current.pop("waitingForEvent", None)
        return ActionResult(next_action=invocation.flow.next_action(action_id, branch=0), result=woken.event, waits=[])
    condition = config.get("condition")
    if await _matches(invocation, condition):
        context.recorder.log("info", f"[Action:{action_id}] Condition matched - taking the matched path")
        current.pop("waitingForEvent", None)
        return ActionResult(
            next_action=invocation.flow.next_action(action_id, branch=0),
            result={"conditionResult": True},
            waits=[] if parked else None,
        )
    deadline = _deadline(config.get("max_wait_duration"), invocation)
    if deadline is not None and deadline <= context.now:
        reasons = " or ".join(
            reason
            for reason, present in (("events", config.get("events")), ("condition", _evaluable(condition)))
            if present
        )
        context.recorder.log(
            "info",
            f"[Action:{action_id}] Timed out waiting for {reasons or 'events or condition'} - taking the timeout path",
        )
        current.pop("waitingForEvent", None)
        return ActionResult(next_action=invocation.flow.next_action(action_id), waits=[] if parked else None)
    wake = deadline or context.now + INDEFINITE_WAIT
    if parked:
        return ActionResult(scheduled_at=wake)
    waits = _registrations(invocation, config, deadline)
    current["waitingForEvent"] = True
    names = [name for entry in config.get("events") or [] for name in event_names((entry or {}).get("filters"))]
    timeout = _iso(deadline) if deadline else "none"
    if names:
        plural = "s" if len(config.get("events") or []) > 1 else ""
        message = f"Waiting for event{plural}: {', '.join(names)} (timeout: {timeout})"
    else:
        message = f"Waiting for condition to match (timeout: {timeout})"
    context.recorder.log("info", f"[Action:{action_id}] {message}")
    return ActionResult(scheduled_at=wake, waits=waits)


def _evaluable(condition: Any) -> bool:
    filters = condition.get("filters") if isinstance(condition, dict) else None
    return isinstance(filters, dict) and bool(filters.get("bytecode"))


def _deadline(max_wait: Any, invocation: Invocation) -> datetime | None:
    """A falsy `max_wait_duration` waits indefinitely, as PostHog's executor does."""
    if not max_wait:
        return None
    try:
        return invocation.current_started_at() + parse_duration(max_wait)
    except DurationError as error:
        raise ActionError(str(error)) from error


def _registrations(invocation: Invocation, config: dict[str, Any], deadline: datetime | None) -> list[WaitRegistration]:
    correlation = None
    bytecode = (
        (config.get("correlation") or {}).get("bytecode") if isinstance(config.get("correlation"), dict) else None
    )
    if bytecode:
        # No value on the trigger event: a value of null would match every event, so we register
        # an impossible key and let only the deadline end the wait.
        value = correlation_key(bytecode, correlation_globals(invocation))
        correlation = (bytecode, value if value is not None else NO_CORRELATION)
    waits = registrations_for(EVENT, config.get("events"), correlation=correlation, expires_at=deadline)
    if _evaluable(config.get("condition")):
        filters = person_only(config["condition"]["filters"])
        waits.append(WaitRegistration(kind=CONDITION, event_name=None, filters=filters, expires_at=deadline))
    return waits


def correlation_globals(invocation: Invocation) -> dict[str, Any]:
    return {"event": invocation.event, "person": invocation.person, "variables": invocation.variables}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
