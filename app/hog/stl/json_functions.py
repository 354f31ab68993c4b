"""STL: JSON text <-> Hog values, and the ClickHouse-style ``JSONExtract*`` path functions."""

from __future__ import annotations

import json
from typing import Any

from app.hog.convert import from_hog_value
from app.hog.errors import HogVMError
from app.hog.stl.core import to_float, to_int
from app.hog.stl.registry import StlContext, arg, stl

MAX_INDENT = 10  # JSON.stringify caps indentation at 10, keep hostile indents cheap too


def json_stringify(value: Any, indent: int | None = None) -> str:
    data = from_hog_value(value)
    try:
        if indent:
            return json.dumps(data, ensure_ascii=False, indent=min(indent, MAX_INDENT))
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        raise HogVMError("Value is nested too deeply to convert to JSON") from None


def json_parse(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise HogVMError(f"Invalid JSON: {exc}") from None


@stl("jsonStringify", 1, 2)
def _json_stringify(ctx: StlContext, args: list[Any]) -> str:
    indent = arg(args, 1)
    return json_stringify(args[0], indent if type(indent) is int and indent > 0 else None)


@stl("jsonParse", 1, 1, deep_result=True)
def _json_parse(ctx: StlContext, args: list[Any]) -> Any:
    if type(args[0]) is not str:
        raise HogVMError("Function jsonParse expects a string")
    return json_parse(args[0])


@stl("isValidJSON", 1, 1)
def _is_valid_json(ctx: StlContext, args: list[Any]) -> bool:
    if type(args[0]) is not str:
        return False
    try:
        json.loads(args[0])
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


_MISSING = object()


def _resolve(document: Any, path: list[Any]) -> Any:
    """The value at ``path`` (1-based/negative array indexes), or ``_MISSING``."""
    if type(document) is str:
        try:
            document = json.loads(document)
        except (json.JSONDecodeError, RecursionError):
            return _MISSING
    current = document
    for key in path:
        if type(current) is dict and type(key) is str:
            if key not in current:
                return _MISSING
            current = current[key]
        elif type(current) in (list, tuple) and type(key) is int:
            if key == 0 or abs(key) > len(current):
                return _MISSING
            current = current[key - 1] if key > 0 else current[key]
        else:
            return _MISSING
    return current


@stl("JSONHas", 1, None)
def _json_has(ctx: StlContext, args: list[Any]) -> bool:
    return _resolve(args[0], args[1:]) is not _MISSING


@stl("JSONLength", 1, None)
def _json_length(ctx: StlContext, args: list[Any]) -> int:
    value = _resolve(args[0], args[1:])
    return len(value) if type(value) in (list, tuple, dict) else 0


@stl("JSONExtractBool", 1, None)
def _json_extract_bool(ctx: StlContext, args: list[Any]) -> bool:
    value = _resolve(args[0], args[1:])
    return value if type(value) is bool else False


@stl("JSONExtractInt", 1, None)
def _json_extract_int(ctx: StlContext, args: list[Any]) -> int | None:
    value = _resolve(args[0], args[1:])
    return None if value is _MISSING else to_int(value)


@stl("JSONExtractFloat", 1, None)
def _json_extract_float(ctx: StlContext, args: list[Any]) -> float | None:
    value = _resolve(args[0], args[1:])
    return None if value is _MISSING else to_float(value)


def _extract_string(value: Any) -> str | None:
    if value is _MISSING or value is None:
        return None
    if type(value) is str:
        return value
    return json_stringify(value)


@stl("JSONExtractString", 1, None)
def _json_extract_string(ctx: StlContext, args: list[Any]) -> str | None:
    return _extract_string(_resolve(args[0], args[1:]))


@stl("JSONExtractArrayRaw", 1, None, deep_result=True)
def _json_extract_array_raw(ctx: StlContext, args: list[Any]) -> list[Any] | None:
    value = _resolve(args[0], args[1:])
    return list(value) if type(value) in (list, tuple) else None


@stl("JSONExtract", 2, None, deep_result=True)
def _json_extract(ctx: StlContext, args: list[Any]) -> Any:
    # The last argument is ClickHouse's return type; both of PostHog's VMs ignore it and hand back
    # the value found (`JSONExtract('{"a": "30"}', 'a', 'Int')` is the string "30").
    value = _resolve(args[0], args[1:-1])
    return None if value is _MISSING else value
