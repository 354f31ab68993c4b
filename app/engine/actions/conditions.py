"""`conditional_branch` and `wait_until_condition`: property conditions, polled while waiting."""

from datetime import timedelta
from typing import Any

from app.engine.actions.base import ActionContext, ActionError, ActionResult
from app.engine.durations import DurationError, parse_duration, scheduled_at
from app.engine.filtering import evaluate_step_filters
from app.engine.invocation import Invocation

BRANCH_POLL = timedelta(minutes=10)


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
    config = action.get("config") or {}
    if await _matches(invocation, config.get("condition")):
        context.recorder.log("info", f"[Action:{action['id']}] Condition matched - taking the matched path")
        return ActionResult(
            next_action=invocation.flow.next_action(action["id"], branch=0), result={"conditionResult": True}
        )
    wake = _wake(config.get("max_wait_duration"), invocation, context)
    if wake is not None:
        current = invocation.current_action or {}
        if not current.get("waitingLogged"):
            current["waitingLogged"] = True
            deadline = invocation.current_started_at() + parse_duration(config.get("max_wait_duration"))
            context.recorder.log(
                "info",
                f"[Action:{action['id']}] Waiting for condition to match "
                f"(timeout: {deadline.isoformat().replace('+00:00', 'Z')})",
            )
        return ActionResult(scheduled_at=wake)
    context.recorder.log(
        "info", f"[Action:{action['id']}] Timed out waiting for events or condition - taking the timeout path"
    )
    return ActionResult(next_action=invocation.flow.next_action(action["id"]))
