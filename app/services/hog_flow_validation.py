"""PostHog's save-time rules for a flow: draft (lenient) vs strict, per action type.

In strict mode (the flow is or becomes `active`) every per-type check raises. In draft mode each
check is attempted: its compiled output is kept when it succeeds, the data as sent when it fails.
Action field rules, action-level `filters` and the one-trigger rule apply in both modes.
"""

import json
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.engine.durations import DURATION_PATTERN, OFFSET_PATTERN
from app.engine.templates import get_template
from app.errors import ValidationError
from app.hog.compiler import compile_expression
from app.hog.opcodes import Op
from app.hog.parser import HogCompileError, HogSourceLimitError
from app.services.flow_compilation import CompileError, TeamFilterContext, compile_flow_filters, compile_input
from app.services.input_validation import InputError, validate_inputs

BILLABLE_ACTION_TYPES = frozenset({"function", "function_email", "function_sms", "function_push"})
# Types the executor runs; any type containing "function" is a function step (PostHog's own test).
ACTION_TYPES = frozenset(
    {
        "trigger",
        "delay",
        "wait_until_condition",
        "wait_until_time_window",
        "conditional_branch",
        "random_cohort_branch",
        "exit",
    }
)
FUNCTION_TRIGGER_TYPES = frozenset({"webhook", "manual", "tracking_pixel"})
# Zero-argument functions whose value moves with the clock: nothing happens that could wake a wait on them.
CLOCK_FUNCTIONS = ("now", "today")
MAX_VARIABLES_SIZE = 5120


class ActionRuleError(Exception):
    """A per-type rule failed. `field` is relative to the action (`config`, `inputs__url`, ...)."""

    def __init__(self, message: str, field: str = "non_field_errors") -> None:
        self.message = message
        self.field = field
        super().__init__(message)


def _filter_error(error: CompileError) -> str:
    return f"Invalid filter configuration: {error}"


class FlowValidator:
    def __init__(
        self, team: TeamFilterContext, *, strict: bool, stored_actions: Iterable[dict[str, Any]] | None = None
    ) -> None:
        self.team = team
        self.strict = strict
        # Wait conditions already saved on the flow: the clock rule refuses new ones only, so that an
        # unrelated edit (or resuming a paused flow) never fails over a condition accepted before.
        self.stored_wait_conditions = {
            action.get("id"): _authored((action.get("config") or {}).get("condition"))
            for action in stored_actions or []
            if isinstance(action, dict) and action.get("type") == "wait_until_condition"
        }

    # -- actions -----------------------------------------------------------------------------

    def validate_actions(self, actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        validated = [self._validate_action(index, action) for index, action in enumerate(actions)]
        if sum(1 for action in validated if action["type"] == "trigger") != 1:
            raise ValidationError("Exactly one trigger action is required", attr="actions")
        return validated

    def _validate_action(self, index: int, action: dict[str, Any]) -> dict[str, Any]:
        rendered = {
            "id": action["id"],
            "name": action["name"],
            "description": action.get("description") or "",
            "on_error": action.get("on_error"),
            "filters": action.get("filters"),
            "type": action["type"],
            "config": action["config"],
            "output_variable": action.get("output_variable"),
        }
        for stamp in ("created_at", "updated_at"):
            if action.get(stamp) is not None:
                rendered[stamp] = action[stamp]
        if rendered["filters"] is not None:
            try:
                rendered["filters"] = compile_flow_filters(rendered["filters"], self.team)
            except CompileError as error:
                raise ValidationError(_filter_error(error), attr=f"actions__{index}__filters") from error
        try:
            rendered["config"] = self._validate_config(rendered["type"], _deep_copy(rendered["config"]), rendered["id"])
        except ActionRuleError as error:
            # A draft keeps what does not compile, but not a source past the parser's safety bounds.
            if self.strict or _past_safety_bounds(error):
                raise ValidationError(error.message, attr=f"actions__{index}__{error.field}") from error
        return rendered

    def _validate_config(self, action_type: str, config: dict[str, Any], action_id: Any = None) -> dict[str, Any]:
        if action_type not in ACTION_TYPES and "function" not in action_type:
            raise ActionRuleError(f'"{action_type}" is not a valid action type.', "type")
        if action_type == "trigger":
            config = self._validate_trigger(config)
        elif "function" in action_type:
            config = self._validate_function(config)
        if action_type == "delay":
            config = self._validate_delay(config)
        if "conditions" in config or "condition" in config:
            config = self._validate_conditions(config)
        if action_type == "wait_until_condition":
            config = self._validate_wait(config, action_id)
        return config

    def _validate_delay(self, config: dict[str, Any]) -> dict[str, Any]:
        """A fixed span (`delay_duration`) or a date the person or event carries (`delay_until`), never both."""
        delay_until = config.get("delay_until")
        if delay_until is None:
            if not _is_duration(config.get("delay_duration")):
                raise ActionRuleError(duration_error("delay_duration"), "config")
            return config
        if config.get("delay_duration"):
            raise ActionRuleError("A delay takes either delay_duration or delay_until, not both.", "config")
        if not isinstance(delay_until, dict):
            raise ActionRuleError("delay_until must be an object with an 'expression'.", "config")
        # Client bytecode is never trusted: the executor runs whatever is stored.
        stored = {key: value for key, value in delay_until.items() if key not in ("bytecode", "bytecode_error")}
        config["delay_until"] = stored
        expression = stored.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise ActionRuleError("delay_until.expression is required and must be SQL.", "config")
        offset = stored.get("offset")
        if offset is not None and not (isinstance(offset, str) and OFFSET_PATTERN.match(offset)):
            raise ActionRuleError(
                "delay_until.offset must be a string matching ^-?\\d*\\.?\\d+[dhms]$ "
                "(e.g. '-1d' for a day before the date, '2h' for two hours after).",
                "config",
            )
        if config.get("max_delay_duration") is not None and not _is_duration(config["max_delay_duration"]):
            raise ActionRuleError(duration_error("max_delay_duration"), "config")
        if stored.get("use_person_timezone") is not None and not isinstance(stored["use_person_timezone"], bool):
            raise ActionRuleError("delay_until.use_person_timezone must be true or false.", "config")
        for field in ("timezone", "fallback_timezone"):
            if stored.get(field) is not None and not _is_zone(stored[field]):
                raise ActionRuleError(
                    f"delay_until.{field} must be an IANA timezone name, e.g. 'Europe/Berlin'.", "config"
                )
        try:
            stored["bytecode"] = compile_expression(expression)
        except HogCompileError as error:
            raise ActionRuleError(f"delay_until.expression could not be read as SQL: {error}", "config") from error
        return config

    def _validate_wait(self, config: dict[str, Any], action_id: Any) -> dict[str, Any]:
        if config.get("condition") is None:
            # What PostHog's editor renders; an empty condition never matches.
            config["condition"] = {"filters": None}
        events = config.get("events")
        # An entry that names no event or action compiles to always-true and would wake on anything.
        events = [item for item in events if _targets_event_or_action(item)] if isinstance(events, list) else []
        config["events"] = [self._compile_condition(item, events_allowed=True) for item in events]
        condition_filters = (config.get("condition") or {}).get("filters")
        already_stored = self.stored_wait_conditions.get(action_id, _NOT_STORED) == _authored(config.get("condition"))
        if isinstance(condition_filters, dict) and not already_stored:
            clock = _clock_function(condition_filters.get("bytecode"))
            if clock is not None:
                raise ActionRuleError(
                    f"This wait uses {clock}(), so it depends on the current time rather than on something "
                    "happening, and it can only advance once the workflow checks it again. To wait for a point "
                    "in time, use a delay step, then add this condition to the step after it.",
                    "config",
                )
        max_wait = config.get("max_wait_duration")
        # A falsy timeout means "wait indefinitely" (PostHog never parses it).
        if max_wait and not _is_duration(max_wait):
            raise ActionRuleError(duration_error("max_wait_duration"), "config")
        correlation = config.get("correlation")
        if correlation is not None:
            config["correlation"] = _compile_correlation(correlation)
        return config

    def _validate_trigger(self, config: dict[str, Any]) -> dict[str, Any]:
        trigger_type = config.get("type")
        if trigger_type == "event":
            filters = config.get("filters")
            filters = dict(filters) if isinstance(filters, dict) else {}
            if config.get("filter_test_accounts") is not None:
                filters["filter_test_accounts"] = config.pop("filter_test_accounts")
            config["filters"] = self._compile_filters(filters, "filters") if filters else filters
            return config
        if trigger_type in FUNCTION_TRIGGER_TYPES:
            return self._validate_function(config)
        if trigger_type == "batch":
            filters = config.get("filters")
            if filters is None or filters == {} or filters == []:
                raise ActionRuleError("Filters are required for batch triggers.", "filters")
            if not isinstance(filters, dict):
                raise ActionRuleError("Filters must be a dictionary.", "filters")
            if "properties" in filters and not isinstance(filters["properties"], list):
                raise ActionRuleError("Properties must be an array.", "filters__properties")
            return config
        if trigger_type == "schedule":
            return config
        raise ActionRuleError("Invalid trigger type", "config")

    def _validate_function(self, config: dict[str, Any]) -> dict[str, Any]:
        template_id = config.get("template_id") or ""
        template = get_template(template_id) if isinstance(template_id, str) else None
        if template is None:
            raise ActionRuleError("Template not found", "template_id")
        inputs = config.get("inputs")
        try:
            config["inputs"] = validate_inputs(template.inputs_schema, inputs if isinstance(inputs, dict) else {})
        except InputError as error:
            raise ActionRuleError(error.message, f"inputs__{error.key}") from error
        return config

    def _validate_conditions(self, config: dict[str, Any]) -> dict[str, Any]:
        if config.get("conditions") and config.get("condition"):
            raise ActionRuleError("Cannot specify both 'conditions' and 'condition' fields", "config")
        if isinstance(config.get("condition"), dict):
            config["condition"] = self._compile_condition(config["condition"], events_allowed=False)
        if isinstance(config.get("conditions"), list):
            config["conditions"] = [
                self._compile_condition(item, events_allowed=False) for item in config["conditions"]
            ]
        return config

    def _compile_condition(self, condition: Any, *, events_allowed: bool) -> Any:
        if not isinstance(condition, dict) or not isinstance(condition.get("filters"), dict):
            return condition
        filters = condition["filters"]
        if not events_allowed and "events" in filters:
            raise ActionRuleError("Event filters are not allowed in conditionals")
        return {**condition, "filters": self._compile_filters(filters, "non_field_errors")}

    def _compile_filters(self, filters: dict[str, Any], field: str) -> dict[str, Any]:
        """Compiled filters; a draft keeps filters that don't compile, with `bytecode_error` (PostHog)."""
        try:
            return compile_flow_filters(filters, self.team)
        except CompileError as error:
            if self.strict:
                raise ActionRuleError(_filter_error(error), field) from error
            return {**filters, "bytecode": None, "bytecode_error": str(error)}

    # -- flow-level fields -------------------------------------------------------------------

    def validate_trigger_masking(self, masking: dict[str, Any] | None) -> dict[str, Any] | None:
        if masking is None:
            return None
        try:
            bytecode = compile_input(masking["hash"])
        except CompileError as error:
            raise ValidationError(f"Invalid template: {error}", attr="trigger_masking__hash") from error
        return {
            "hash": masking["hash"],
            "ttl": masking.get("ttl"),
            "threshold": masking.get("threshold"),
            "bytecode": bytecode,
        }

    def validate_conversion(self, conversion: dict[str, Any] | None) -> dict[str, Any] | None:
        if conversion is None:
            return None
        conversion = _deep_copy(conversion)
        conversion.pop("bytecode", None)
        if conversion.get("filters"):
            try:
                compiled = compile_flow_filters({"properties": conversion["filters"]}, self.team)
                conversion["filters"] = compiled.get("properties", conversion["filters"])
                conversion["bytecode"] = compiled.get("bytecode")
            except CompileError as error:
                if self.strict:
                    raise ValidationError(_filter_error(error), attr="conversion__filters") from error
        conversion.setdefault("bytecode", [])
        for index, event in enumerate(conversion.get("events") or []):
            if isinstance(event, dict) and isinstance(event.get("filters"), dict):
                try:
                    event["filters"] = self._compile_filters(event["filters"], "filters")
                except ActionRuleError as error:
                    raise ValidationError(error.message, attr=f"conversion__events__{index}__filters") from error
        return conversion


def _past_safety_bounds(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, HogSourceLimitError):
            return True
        cause = cause.__cause__
    return False


def validate_variables(variables: list[dict[str, str]]) -> list[dict[str, str]]:
    keys = [item.get("key") for item in variables]
    if len(keys) != len(set(keys)):
        raise ValidationError("Variable keys must be unique", attr="variables__non_field_errors")
    if sum(len(json.dumps(item)) for item in variables) > MAX_VARIABLES_SIZE:
        raise ValidationError(
            "Total size of variables definition must be less than 5KB", attr="variables__non_field_errors"
        )
    return variables


def billable_action_types(actions: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({action["type"] for action in actions} & BILLABLE_ACTION_TYPES)


def trigger_of(actions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return next((action["config"] for action in actions if action["type"] == "trigger"), {})


_NOT_STORED = object()
# Compiler output, not what a person wrote: comparing it would make an unchanged condition look edited.
_DERIVED_FILTER_KEYS = ("bytecode", "bytecode_error", "source")


def _authored(condition: Any) -> Any:
    filters = condition.get("filters") if isinstance(condition, dict) else None
    if not isinstance(filters, dict):
        return condition
    return {**condition, "filters": {k: v for k, v in filters.items() if k not in _DERIVED_FILTER_KEYS}}


def duration_error(field: str) -> str:
    return (
        f"{field} must be a string matching ^\\d*\\.?\\d+[dhms]$ "
        "(e.g. '30s', '30m', '2h', '1.5d'). ISO-8601 formats are not supported."
    )


def _is_duration(value: Any) -> bool:
    return isinstance(value, str) and bool(DURATION_PATTERN.match(value))


def _is_zone(value: Any) -> bool:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def _targets_event_or_action(item: Any) -> bool:
    filters = item.get("filters") if isinstance(item, dict) else None
    return isinstance(filters, dict) and bool(filters.get("events") or filters.get("actions"))


def _clock_function(bytecode: Any) -> str | None:
    """The first clock function compiled bytecode calls (`CALL_GLOBAL name`), if any."""
    if not isinstance(bytecode, list):
        return None
    for index in range(len(bytecode) - 1):
        if bytecode[index] == Op.CALL_GLOBAL and bytecode[index + 1] in CLOCK_FUNCTIONS:
            return str(bytecode[index + 1])
    return None


def _compile_correlation(correlation: Any) -> dict[str, Any]:
    """Our extension: `{"expression": "event.properties.cart_id"}` evaluated on the trigger event and on
    the waking event; only an event whose value equals the run's (and is not null) wakes it."""
    expression = correlation.get("expression") if isinstance(correlation, dict) else None
    if not isinstance(expression, str) or not expression.strip():
        raise ActionRuleError("correlation.expression is required and must be an expression.", "config")
    try:
        bytecode = compile_expression(expression)
    except HogCompileError as error:
        raise ActionRuleError(f"correlation.expression could not be read: {error}", "config") from error
    return {"expression": expression, "bytecode": bytecode}


def _deep_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))
