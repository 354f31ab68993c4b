"""`trigger`, `delay`, `random_cohort_branch` and `exit`."""

from typing import Any

from app.engine.actions.base import ActionContext, ActionError, ActionResult
from app.engine.actions.delay_until import delay_until_wake
from app.engine.durations import DurationError, scheduled_at
from app.engine.filtering import evaluate_step_filters
from app.engine.invocation import Invocation


async def trigger(invocation: Invocation, action: dict[str, Any], context: ActionContext) -> ActionResult:
    """Runs only in test invocations: production runs start after the trigger already matched."""
    config = action.get("config") or {}
    if config.get("type") == "event":
        outcome = await evaluate_step_filters(
            config.get("filters") or {}, invocation.filter_globals(with_variables=False)
        )
        if outcome.error:
            raise ActionError(outcome.error)
        if not outcome.matched:
            return ActionResult(finished=True)
    return ActionResult(next_action=invocation.flow.next_action(action["id"]))


async def delay(invocation: Invocation, action: dict[str, Any], context: ActionContext) -> ActionResult:
    """Stay on the delay until it has elapsed; the duration (or date) is re-read on every wake."""
    config = action.get("config") or {}
    try:
        if config.get("delay_until") is not None:
            wake = await delay_until_wake(config, invocation, context.now)
        else:
            wake = scheduled_at(config.get("delay_duration"), invocation.current_started_at(), context.now)
    except DurationError as error:
        raise ActionError(str(error)) from error
    if wake is not None:
        return ActionResult(scheduled_at=wake)
    return ActionResult(next_action=invocation.flow.next_action(action["id"]))


async def random_cohort_branch(invocation: Invocation, action: dict[str, Any], context: ActionContext) -> ActionResult:
    """Not normalised: the first cohort whose running total reaches the draw wins, else the last."""
    cohorts = (action.get("config") or {}).get("cohorts")
    if not isinstance(cohorts, list) or not cohorts:
        return ActionResult(next_action=invocation.flow.next_action(action["id"]))
    draw = context.random() * 100
    cumulative = 0.0
    chosen = len(cohorts) - 1
    for index, cohort in enumerate(cohorts):
        percentage = cohort.get("percentage") if isinstance(cohort, dict) else 0
        cumulative += float(percentage) if isinstance(percentage, (int, float)) else 0.0
        if draw <= cumulative:
            chosen = index
            break
    next_action = invocation.flow.next_action(action["id"], branch=chosen)
    return ActionResult(next_action=next_action, result={"assigned_cohort": next_action["id"]})


async def exit_(invocation: Invocation, action: dict[str, Any], context: ActionContext) -> ActionResult:
    return ActionResult(finished=True)
