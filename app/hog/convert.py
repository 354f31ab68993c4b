"""Crossing the host boundary: Hog values <-> plain JSON-compatible Python values."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

from app.hog.errors import HogVMError
from app.hog.printing import concat_part, function_repr
from app.hog.values import Callable, Closure

_NESTING_ERROR = "Value nested too deeply"


def copy_value(value: Any) -> Any:
    """Deep copy of containers, so Hog code never mutates host data (globals, host results)."""
    t = type(value)
    if t is not dict and t is not list and t is not tuple:
        return value
    try:
        return _copy(value, {})
    except RecursionError:
        raise HogVMError(_NESTING_ERROR) from None


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    t = type(value)
    if t is not dict and t is not list and t is not tuple:
        return value
    copied = memo.get(id(value))
    if copied is not None:
        return copied
    if t is dict:
        result: Any = {}
        memo[id(value)] = result
        for key, item in value.items():
            result[key] = _copy(item, memo)
        return result
    if t is list:
        result = []
        memo[id(value)] = result
        result.extend(_copy(item, memo) for item in value)
        return result
    return tuple(_copy(item, memo) for item in value)


def to_hog_value(value: Any) -> Any:
    """A host (JSON-like) value as a Hog value: containers copied, dates become Hog dates."""
    try:
        return _to_hog(value)
    except RecursionError:
        raise HogVMError(_NESTING_ERROR) from None


def _to_hog(value: Any) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, dict):
        return {_to_hog(key): _to_hog(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_hog(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_to_hog(item) for item in value)
    if isinstance(value, Closure | Callable):
        return value
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
        zone = getattr(moment.tzinfo, "key", "UTC")
        return {"__hogDateTime__": True, "dt": moment.timestamp(), "zone": zone}
    if isinstance(value, _dt.date):
        return {"__hogDate__": True, "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, bool | int | float | str):
        return _plain_scalar(value)  # subclasses such as IntEnum or str enums
    return str(value)


def _plain_scalar(value: Any) -> Any:
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def from_hog_value(value: Any) -> Any:
    """Plain JSON data: tuples -> lists, functions -> ``fn<name(n)>``, non-string keys ->
    strings, non-finite floats and cycles -> ``None``. Hog dates/errors stay tagged dicts."""
    on_path: set[int] = set()

    def convert(item: Any) -> Any:
        t = type(item)
        if t is float and not math.isfinite(item):
            return None
        if t is Closure or t is Callable:
            return function_repr(item)
        if t is dict or t is list or t is tuple:
            if id(item) in on_path:
                return None
            on_path.add(id(item))
            try:
                if t is dict:
                    return {_key(key): convert(child) for key, child in item.items()}
                return [convert(child) for child in item]
            finally:
                on_path.discard(id(item))
        return item

    try:
        return convert(value)
    except RecursionError:
        raise HogVMError(_NESTING_ERROR) from None


def _key(key: Any) -> str:
    if type(key) is str:
        return key
    if key is None:
        return "null"
    if type(key) is bool:
        return "true" if key else "false"
    return concat_part(key)
