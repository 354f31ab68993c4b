"""Exit conditions and conversion, checked at the start of every pickup (PostHog's `shouldExitEarly`).

Both are evaluated against the run's original trigger event and the freshly loaded person, so in
practice a change of person properties is what makes a run leave early. A conversion event
(`conversion.events`) that the capture pipeline matched for the run ends it too: the run wakes for it.
"""

from app.engine.actions.base import Recorder
from app.engine.filtering import evaluate_step_filters
from app.engine.invocation import Invocation
from app.engine.messages import event_token, person_token
from app.engine.waits import CONVERSION


async def _trigger_matches(invocation: Invocation) -> bool | None:
    trigger = invocation.flow.trigger
    filters = trigger.get("filters")
    if trigger.get("type") != "event" or not isinstance(filters, dict) or not filters or not invocation.person:
        return None
    return (await evaluate_step_filters(filters, invocation.filter_globals(with_variables=False))).matched


async def _conversion_matches(invocation: Invocation, recorder: Recorder) -> bool | None:
    conversion = invocation.flow.conversion or {}
    if not conversion.get("filters") or not invocation.person:
        return None
    bytecode = conversion.get("bytecode")
    if not bytecode:
        recorder.log("error", "Conversion filters were not compiled, so conversion could not be checked")
        return None
    compiled = {"bytecode": bytecode, "properties": conversion["filters"]}
    return (await evaluate_step_filters(compiled, invocation.filter_globals(with_variables=False))).matched


async def check_early_exit(invocation: Invocation, recorder: Recorder) -> bool:
    """True when the run must end now; logs and counts why."""
    condition = invocation.flow.exit_condition
    if condition == "exit_only_at_end":
        return False
    checks_trigger = condition in ("exit_on_trigger_not_matched", "exit_on_trigger_not_matched_or_conversion")
    checks_conversion = condition in ("exit_on_conversion", "exit_on_trigger_not_matched_or_conversion")
    reason = None
    if checks_trigger and await _trigger_matches(invocation) is False:
        reason = f"{person_token(invocation.person)} no longer matches trigger filters"
    elif checks_conversion and (converted := invocation.woken(CONVERSION)) is not None:
        reason = f"{person_token(invocation.person)} converted on {event_token(converted.event)}"
    elif checks_conversion and await _conversion_matches(invocation, recorder):
        reason = f"{person_token(invocation.person)} matches conversion filters"
    if reason is None:
        return False
    recorder.log("info", f"Workflow exited early due to exit condition: {condition} ({reason})")
    recorder.metric("other", "early_exit", (invocation.current_action or {}).get("id") or "exit_condition")
    return True
