"""Function inputs checked against a template's `inputs_schema` (PostHog's `validate_inputs`).

The schema drives the loop: inputs the schema does not know are dropped, required ones must have
a value, values are type-checked, templated ones get `bytecode`, and every input gets an `order`
that puts an input after the inputs it references as `{inputs.<key>}`.
"""

import re
from typing import Any

from app.services.flow_compilation import CompileError, compile_input

COMPILED_TYPES = frozenset({"string", "dictionary", "json", "email", "native_email", "boolean"})
_INPUT_REFERENCE = re.compile(r"inputs\.([A-Za-z_$][A-Za-z0-9_$]*)")


class InputError(Exception):
    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(message)


def validate_inputs(schema: list[dict[str, Any]], inputs: dict[str, Any]) -> dict[str, Any]:
    validated: dict[str, dict[str, Any]] = {}
    for item in schema:
        key = item["key"]
        given = inputs.get(key)
        given = dict(given) if isinstance(given, dict) else {}
        if "value" not in given and item.get("required") and "default" in item:
            given["value"] = item["default"]
        value = given.get("value")
        if item.get("required") and (value is None or value == ""):
            raise InputError(key, "This field is required.")
        if "value" not in given:
            continue
        templating = given.get("templating") or _schema_templating(item)
        output: dict[str, Any] = {"value": value}
        if templating:
            output["templating"] = templating
        if value:
            _check_type(key, item, value, templating)
            if item.get("templating", True) is not False and templating != "liquid" and item["type"] in COMPILED_TYPES:
                output["bytecode"] = _compile(key, item["type"], value)
        validated[key] = output
    for order, key in enumerate(_dependency_order(validated)):
        validated[key]["order"] = order
    return {key: validated[key] for key in sorted(validated, key=lambda k: validated[k]["order"])}


def _schema_templating(item: dict[str, Any]) -> str | None:
    templating = item.get("templating")
    if templating is True:
        return "hog"
    return templating if isinstance(templating, str) else None


def _compile(key: str, input_type: str, value: Any) -> Any:
    if input_type in ("email", "native_email") and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "design"}
    try:
        return compile_input(value)
    except CompileError as error:
        raise InputError(key, f"Invalid template: {error}") from error


def _check_type(key: str, item: dict[str, Any], value: Any, templating: str | None) -> None:
    kind = item["type"]
    if kind == "string" and not isinstance(value, str):
        raise InputError(key, "Value must be a string.")
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InputError(key, "Value must be a number.")
    if kind == "boolean" and not isinstance(value, bool):
        if not isinstance(value, str):
            raise InputError(key, "Value must be a boolean.")
        if templating == "liquid":
            raise InputError(key, "Liquid templating is not supported for boolean fields. Use Hog templating instead.")
        if item.get("templating") is False:
            raise InputError(key, "Value must be a boolean.")
    if kind == "dictionary" and not isinstance(value, dict):
        raise InputError(key, "Value must be a dictionary.")
    if kind == "integration" and (isinstance(value, bool) or not isinstance(value, int)):
        raise InputError(key, "Value must be an Integration ID.")
    if kind == "integration_multi" and (
        not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise InputError(key, "Value must be a list of Integration IDs.")
    if kind in ("email", "native_email"):
        _check_email(key, value)
    if kind == "non_failure_status_codes":
        _check_status_codes(key, value)


def _check_email(key: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise InputError(key, "Value must be a dictionary.")
    for part in ("from", "to", "subject"):
        if not value.get(part):
            raise InputError(key, f"Missing value for '{part}'.")
    if not value.get("text") and not value.get("html"):
        raise InputError(key, "Either 'text' or 'html' is required.")


def _check_status_codes(key: str, value: Any) -> None:
    if not isinstance(value, list):
        raise InputError(key, "Value must be a list of status codes.")
    for code in value:
        if code in ("4xx", "5xx"):
            continue
        if isinstance(code, bool) or not isinstance(code, int):
            raise InputError(key, "Status codes must be integers or '4xx'/'5xx'.")
        if not 400 <= code <= 599:
            raise InputError(key, "Status codes must be between 400 and 599.")


def _references(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_INPUT_REFERENCE.findall(value))
    if isinstance(value, dict):
        return set().union(*(_references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value)) if value else set()
    return set()


def _dependency_order(inputs: dict[str, dict[str, Any]]) -> list[str]:
    """Kahn's algorithm over `{inputs.x}` references, keeping schema order among equals."""
    depends_on = {key: _references(entry["value"]) & inputs.keys() - {key} for key, entry in inputs.items()}
    ordered: list[str] = []
    remaining = list(inputs)
    while remaining:
        ready = [key for key in remaining if depends_on[key] <= set(ordered)]
        if not ready:
            raise InputError(remaining[0], "Circular dependency detected in input_deps.")
        ordered.extend(ready)
        remaining = [key for key in remaining if key not in ready]
    return ordered
