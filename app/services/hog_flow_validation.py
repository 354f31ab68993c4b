"""PostHog's save-time rules for a flow: draft (lenient) vs strict, per action type.

In strict mode (the flow is or becomes `active`) every per-type check raises. In draft mode each
check is attempted: its compiled output is kept when it succeeds, the data as sent when it fails.
Action field rules, action-level `filters` and the one-trigger rule apply in both modes.
"""

import json
import re
from collections.abc import Iterable
from typing import Any

from app.engine.templates import get_template
from app.errors import ValidationError
from app.hog.parser import HogSourceLimitError
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
DELAY_PATTERN = re.compile(r"^\d*\.?\d+[dhm]$")
DELAY_ERROR = (
    r"delay_duration must be a string matching ^\d*\.?\d+[dhm]$ (e.g. '30m', '2h', '1d'). "
    "Seconds and ISO-8601 formats are not supported."
)
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
    def __init__(self, team: TeamFilterContext, *, strict: bool) -> None:
        self.team = team
        self.strict = strict

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
            rendered["config"] = self._validate_config(rendered["type"], _deep_copy(rendered["config"]))
        except ActionRuleError as error:
            # A draft keeps what does not compile, but not a source past the parser's safety bounds.
            if self.strict or _past_safety_bounds(error):
                raise ValidationError(error.message, attr=f"actions__{index}__{error.field}") from error
        return rendered

    def _validate_config(self, action_type: str, config: dict[str, Any]) -> dict[str, Any]:
        if action_type not in ACTION_TYPES and "function" not in action_type:
            raise ActionRuleError(f'"{action_type}" is not a valid action type.', "type")
        if action_type == "trigger":
            config = self._validate_trigger(config)
        elif "function" in action_type:
            config = self._validate_function(config)
        if action_type == "delay":
            duration = config.get("delay_duration")
            if not isinstance(duration, str) or not DELAY_PATTERN.match(duration):
                raise ActionRuleError(DELAY_ERROR, "config")
        if "conditions" in config or "condition" in config:
            config = self._validate_conditions(config)
        if action_type == "wait_until_condition" and isinstance(config.get("events"), list):
            config["events"] = [self._compile_condition(item, events_allowed=True) for item in config["events"]]
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


def _deep_copy(value: Any) -> Any:
    return json.loads(json.dumps(value))
