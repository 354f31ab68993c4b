"""Action handlers by action type."""

from app.engine.actions.base import (
    ActionContext,
    ActionError,
    ActionResult,
    FunctionRunner,
    Handler,
    Recorder,
)
from app.engine.actions.conditions import conditional_branch, wait_until_condition
from app.engine.actions.simple import delay, exit_, random_cohort_branch, trigger
from app.engine.actions.time_window import wait_until_time_window

HANDLERS: dict[str, Handler] = {
    "trigger": trigger,
    "delay": delay,
    "conditional_branch": conditional_branch,
    "wait_until_condition": wait_until_condition,
    "wait_until_time_window": wait_until_time_window,
    "random_cohort_branch": random_cohort_branch,
    "exit": exit_,
}

__all__ = ["HANDLERS", "ActionContext", "ActionError", "ActionResult", "FunctionRunner", "Handler", "Recorder"]
