"""Storing an action's result in flow variables (`output_variable`), with the 5 KB limit."""

import json
import re
from typing import Any

from app.engine.actions.base import ActionError, Recorder

MAX_VARIABLES_BYTES = 5120
_PATH_PART = re.compile(r"[^.\[\]]+")


def get_path(value: Any, path: str) -> Any:
    """lodash-style `get`: `response.user.id`, `items[0].name`."""
    for part in _PATH_PART.findall(path):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _entries(output_variable: Any) -> list[dict[str, Any]]:
    entries = output_variable if isinstance(output_variable, list) else [output_variable]
    normalised = []
    for entry in entries:
        if isinstance(entry, str) and entry:
            normalised.append({"key": entry})
        elif isinstance(entry, dict) and entry.get("key"):
            normalised.append(entry)
    return normalised


def store_result(variables: dict[str, Any], action: dict[str, Any], result: Any, recorder: Recorder) -> None:
    entries = _entries(action.get("output_variable"))
    if not entries:
        return
    action_id = action["id"]
    if not result:
        recorder.log("warn", f"An output variable was specified for [Action:{action_id}], but no output was returned.")
        return
    written: dict[str, Any] = {}
    for entry in entries:
        value = get_path(result, str(entry["result_path"])) if entry.get("result_path") else result
        if entry.get("spread") and isinstance(value, dict):
            for name, item in value.items():
                written[f"{entry['key']}_{name}"] = item
        else:
            written[entry["key"]] = value
    previous = {key: variables[key] for key in written if key in variables}
    variables.update(written)
    if len(json.dumps(variables, default=str).encode()) > MAX_VARIABLES_BYTES:
        for key in written:
            variables.pop(key, None)
        variables.update(previous)
        message = (
            f"Total variable size after updating '{', '.join(written)}' exceeds 5KB limit. "
            "Use result_path to store only the fields you need."
        )
        recorder.log("error", message)
        raise ActionError(message)
    stored = ", ".join(f"{key} = {json.dumps(value, default=str)}" for key, value in written.items())
    recorder.log("debug", f"Stored action result in variable(s): {stored}")
