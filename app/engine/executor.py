"""The executor loop: one pickup of a run, step by step, until it finishes, waits or yields.

Differences from PostHog's reference, on purpose (listed in the README):
- a run stops after `MAX_ACTION_STEPS` moves (PostHog defines the cap but never checks it);
- a pickup yields after `time_budget` and continues on the next pickup, so a cycle without
  waits cannot hold a worker forever;
- after an error, the `on_error` setting of the action that failed decides, not the next one's.
"""

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.engine.actions import HANDLERS, ActionContext, ActionError, ActionResult, FunctionRunner, Recorder
from app.engine.cancel import cancelled_outcome
from app.engine.exit_conditions import check_early_exit
from app.engine.filtering import evaluate_step_filters
from app.engine.graph import FlowGraphError
from app.engine.invocation import Invocation, Outcome
from app.engine.messages import event_token, person_token
from app.engine.output_variables import store_result
from app.engine.records import StepRecord
from app.engine.waits import CONVERSION_EXITS, WaitRegistration, conversion_registrations

MAX_ACTION_STEPS = 1000
DEFAULT_TIME_BUDGET = timedelta(seconds=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ExecutorOptions:
    clock: Callable[[], datetime] = utc_now
    random: Callable[[], float] = random.random
    time_budget: timedelta = DEFAULT_TIME_BUDGET
    max_steps: int = MAX_ACTION_STEPS
    run_function: FunctionRunner | None = None


@dataclass
class _Step:
    """The result of executing the current action once."""

    finished: bool = False
    error: str | None = None
    scheduled_at: datetime | None = None
    exec_result: Any = None
    failed_action: dict[str, Any] | None = None


@dataclass
class _Pickup:
    invocation: Invocation
    options: ExecutorOptions
    recorder: Recorder
    steps: list[StepRecord] = field(default_factory=list)
    step_waits: list[WaitRegistration] | None = None
    conversion_waits: list[WaitRegistration] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        return self.options.clock()


async def execute_pickup(invocation: Invocation, options: ExecutorOptions | None = None) -> Outcome:
    """Run one pickup of `invocation` and say what to store and when to come back."""
    options = options or ExecutorOptions()
    pickup = _Pickup(invocation, options, Recorder(invocation, options.clock))
    if invocation.flow.status != "active":
        pickup.recorder.log("info", "Run canceled: the workflow is no longer active")
        pickup.recorder.metric("other", "canceled", (invocation.current_action or {}).get("id"))
        return _outcome(pickup, "cancelled")
    if await check_early_exit(invocation, pickup.recorder):
        return _outcome(pickup, "completed")
    if invocation.current_action is None:
        pickup.conversion_waits = _conversion_registrations(invocation, pickup.now)
    _log_start(pickup)
    deadline = time.monotonic() + options.time_budget.total_seconds()
    first = True
    while True:
        if not first and invocation.cancel_check is not None and await invocation.cancel_check():
            done = cancelled_outcome(invocation, options.clock)
            return _outcome(
                pickup,
                "cancelled",
                logs=[*pickup.recorder.logs, *done.logs],
                metrics=[*pickup.recorder.metrics, *done.metrics],
            )
        first = False
        if invocation.step_count >= options.max_steps:
            message = f"Workflow exceeded the maximum of {options.max_steps} action steps"
            return _fail(pickup, message, None)
        step = await execute_current_action(pickup)
        if step.error is not None and step.finished:
            return _fail(pickup, step.error, step.failed_action)
        if step.finished:
            pickup.recorder.log("info", "Workflow completed")
            return _outcome(pickup, "completed", exec_result=step.exec_result)
        if step.scheduled_at is not None:
            return _outcome(pickup, "waiting", next_run_at=step.scheduled_at, exec_result=step.exec_result)
        if time.monotonic() >= deadline:
            # Yield the worker; the run continues right away on its next pickup.
            return _outcome(pickup, "queued", next_run_at=pickup.now)
        # Let other pickups on this event loop in between steps: a long flow must not stall short ones.
        await asyncio.sleep(0)


@dataclass(frozen=True)
class SingleStep:
    """What a test invocation reports: one step, nothing persisted (PostHog's `testHogFlowInvocation`)."""

    next_action_id: str | None
    error: str | None
    exec_result: Any
    logs: list[Any]
    variables: dict[str, Any]


async def execute_single_step(invocation: Invocation, options: ExecutorOptions | None = None) -> SingleStep:
    """Run exactly one action: no exit check, no loop. Without a current action, the first after the trigger."""
    options = options or ExecutorOptions()
    pickup = _Pickup(invocation, options, Recorder(invocation, options.clock))
    step = await execute_current_action(pickup)
    current = invocation.current_action or {}
    return SingleStep(
        next_action_id=current.get("id"),
        error=step.error,
        exec_result=step.exec_result,
        logs=pickup.recorder.logs,
        variables=invocation.variables,
    )


async def execute_current_action(pickup: _Pickup) -> _Step:
    """Execute the run's current action once (PostHog's `executeCurrentAction`)."""
    invocation, recorder = pickup.invocation, pickup.recorder
    try:
        action = _ensure_current_action(pickup)
    except FlowGraphError as error:
        return _Step(finished=True, error=str(error))
    if action is None:
        return _Step(finished=True)
    started_at = pickup.now
    action_id = str(action["id"])
    filters = action.get("filters")
    if (
        isinstance(filters, dict)
        and filters.get("bytecode")
        and not (await evaluate_step_filters(filters, invocation.filter_globals(with_variables=False))).matched
    ):
        recorder.log("info", f"[Action:{action_id}] Skipped due to filter conditions")
        return _advance(pickup, action, started_at, "filtered")
    recorder.log("debug", f"Executing action [Action:{action_id}]")
    try:
        result = await _run_handler(pickup, action)
        if result.result is not None and action.get("output_variable"):
            store_result(invocation.variables, action, result.result, recorder)
    except ActionError as error:
        return _handle_error(pickup, action, started_at, str(error), abort=error.abort)
    except FlowGraphError as error:
        return _handle_error(pickup, action, started_at, str(error))
    if result.waits is not None:
        pickup.step_waits = result.waits
    if result.finished:
        recorder.metric("success", "succeeded", action_id)
        _record(pickup, action, "finished", started_at)
        return _Step(finished=True, exec_result=result.result)
    if result.scheduled_at is not None:
        if result.next_action is not None:
            _advance(pickup, action, started_at, "succeeded", result.next_action)
        else:
            _record(pickup, action, "waiting", started_at)
        recorder.log("info", f"Workflow will pause until {_iso(result.scheduled_at)}")
        return _Step(scheduled_at=result.scheduled_at, exec_result=result.result)
    if result.next_action is not None:
        step = _advance(pickup, action, started_at, "succeeded", result.next_action)
        step.exec_result = result.result
        return step
    return _handle_error(pickup, action, started_at, f"Action {action_id} did not say where to go next")


def _ensure_current_action(pickup: _Pickup) -> dict[str, Any] | None:
    """The action to run; the trigger is never run for real runs, it already matched."""
    invocation = pickup.invocation
    current = invocation.current_action
    if current is None:
        trigger = invocation.flow.trigger_action()
        first = invocation.flow.next_action(str(trigger["id"]))
        invocation.move_to(str(first["id"]), pickup.now, count_step=False)
        return first
    action_id = str(current.get("id"))
    if invocation.flow.has_action(action_id):
        return invocation.flow.action(action_id)
    # The flow was edited while the run was parked and its step is gone: end the run cleanly.
    pickup.recorder.log(
        "info", f"Workflow exited: [Action:{action_id}] was removed from the workflow while the run was waiting"
    )
    pickup.recorder.metric("other", "exited_workflow_changed", action_id)
    return None


async def _run_handler(pickup: _Pickup, action: dict[str, Any]) -> ActionResult:
    action_type = str(action.get("type"))
    context = ActionContext(
        recorder=pickup.recorder,
        clock=pickup.options.clock,
        random=pickup.options.random,
        run_function=pickup.options.run_function,
    )
    if "function" in action_type:
        if pickup.options.run_function is None:
            raise ActionError(f"Action type '{action_type}' not supported")
        return await pickup.options.run_function(pickup.invocation, action, context)
    handler = HANDLERS.get(action_type)
    if handler is None:
        raise ActionError(f"Action type '{action_type}' not supported")
    return await handler(pickup.invocation, action, context)


def _advance(
    pickup: _Pickup,
    action: dict[str, Any],
    started_at: datetime,
    reason: str,
    next_action: dict[str, Any] | None = None,
) -> _Step:
    """Move to `next_action` (default: the continue edge) and count the current action."""
    action_id = str(action["id"])
    try:
        target = next_action or pickup.invocation.flow.next_action(action_id)
    except FlowGraphError as error:
        return _Step(finished=True, error=str(error), failed_action=action)
    kind = {"succeeded": "success", "filtered": "other", "failed": "failure"}[reason]
    pickup.recorder.metric(kind, reason, action_id)
    _record(pickup, action, reason, started_at, next_action_id=str(target["id"]))
    pickup.invocation.move_to(str(target["id"]), pickup.now)
    pickup.recorder.log("info", f"Workflow moved to action [Action:{target['id']}]")
    return _Step()


def _handle_error(
    pickup: _Pickup, action: dict[str, Any], started_at: datetime, message: str, *, abort: bool = False
) -> _Step:
    action_id = str(action["id"])
    pickup.recorder.log("error", f"[Action:{action_id}] Errored: Error: {message}")
    pickup.recorder.metric("failure", "failed", action_id)
    _record(pickup, action, "failed", started_at, error=message)
    if abort:
        return _Step(finished=True, error=message, failed_action=action)
    if action.get("on_error") == "continue" and pickup.invocation.flow.has_continue_edge(action_id):
        target = pickup.invocation.flow.next_action(action_id)
        pickup.recorder.log(
            "info",
            f"[Action:{action_id}] Continuing to next action [Action:{target['id']}] despite error due to error "
            "handling setting being set to continue on error",
        )
        pickup.recorder.metric("success", "succeeded", action_id)
        pickup.invocation.move_to(str(target["id"]), pickup.now)
        pickup.recorder.log("info", f"Workflow moved to action [Action:{target['id']}]")
        return _Step()
    if action.get("on_error") == "abort":
        pickup.recorder.log(
            "info",
            f"Workflow is aborting due to [Action:{action_id}] error handling setting being set to abort on error",
        )
    return _Step(finished=True, error=message, failed_action=action)


def _record(
    pickup: _Pickup,
    action: dict[str, Any],
    outcome: str,
    started_at: datetime,
    *,
    next_action_id: str | None = None,
    error: str | None = None,
) -> None:
    pickup.steps.append(
        StepRecord(
            action_id=str(action["id"]),
            action_type=str(action.get("type")),
            outcome=outcome,
            started_at=started_at,
            finished_at=pickup.now,
            next_action_id=next_action_id,
            error=error,
        )
    )


def _log_start(pickup: _Pickup) -> None:
    invocation = pickup.invocation
    batch = "batch " if invocation.flow.trigger.get("type") == "batch" else ""
    event = f" on {event_token(invocation.event)}" if invocation.event.get("uuid") else ""
    current = invocation.current_action
    if current is None:
        actor = ""
        if invocation.flow.trigger.get("type") in ("webhook", "manual", "schedule") and invocation.event.get(
            "distinct_id"
        ):
            actor = f" at request of [Actor:{invocation.event['distinct_id']}]"
        person = f" for {person_token(invocation.person)}" if invocation.person else ""
        pickup.recorder.log("info", f"Starting {batch}workflow execution at trigger{actor}{person}{event}")
    else:
        pickup.recorder.log("info", f"Resuming {batch}workflow execution at [Action:{current.get('id')}]{event}")


def _fail(pickup: _Pickup, message: str, action: dict[str, Any] | None) -> Outcome:
    suffix = f" at [Action:{action['id']}]" if action else ""
    if pickup.invocation.event.get("uuid"):
        suffix += f". This workflow was triggered by {event_token(pickup.invocation.event)}"
    pickup.recorder.log("error", f"Workflow encountered an error: {message}{suffix}")
    return _outcome(pickup, "failed", error=message)


def _conversion_registrations(invocation: Invocation, now: datetime) -> list[WaitRegistration]:
    """A run that exits on conversion listens for its conversion events and for changes to its person
    from its first step on, for `window_minutes` after it entered when the goal sets one."""
    if invocation.flow.exit_condition not in CONVERSION_EXITS:
        return []
    conversion = invocation.flow.conversion or {}
    window = conversion.get("window_minutes")
    expires_at = None
    if isinstance(window, int) and not isinstance(window, bool) and window > 0:
        expires_at = now + timedelta(minutes=window)
    return conversion_registrations(conversion, expires_at)


def _outcome(pickup: _Pickup, status: str, **kwargs: Any) -> Outcome:
    kwargs.setdefault("logs", pickup.recorder.logs)
    kwargs.setdefault("metrics", pickup.recorder.metrics)
    return Outcome(
        status=status,
        state=pickup.invocation.state,
        steps=pickup.steps,
        step_waits=pickup.step_waits,
        conversion_waits=pickup.conversion_waits,
        **kwargs,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
