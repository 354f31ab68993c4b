"""Arithmetic (hog.md §5.4): the slow paths behind the VM's inlined int/float fast paths.

Integers are kept within 64 bits: a result outside becomes a float, as in PostHog's production
(JavaScript) VM. Besides matching it, this stops ``x := x * x`` from building multi-megabyte
integers whose single multiplication would outlast the time budget.
"""

from __future__ import annotations

import math
from typing import Any

from app.hog.errors import HogVMError
from app.hog.values import hog_typeof, is_datetime, is_interval

INT_LIMIT = 2**63


def clamp_int(value: int) -> int | float:
    if -INT_LIMIT <= value <= INT_LIMIT:
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _numeric(value: Any, op: str, other: Any) -> int | float:
    t = type(value)
    if t is int or t is float:
        return value
    if t is bool:
        return int(value)
    raise HogVMError(f"Unsupported operand types for {op}: {hog_typeof(value)} and {hog_typeof(other)}")


def _interval_shift(moment: dict[str, Any], interval: dict[str, Any], sign: int) -> Any:
    from app.hog.stl.dates import add_to_datetime

    return add_to_datetime(moment, str(interval.get("unit")), sign * int(interval.get("value") or 0))


def hog_add(left: Any, right: Any) -> Any:
    if type(left) is str and type(right) is str:
        return left + right
    if is_datetime(left) and is_interval(right):
        return _interval_shift(left, right, 1)
    if is_interval(left) and is_datetime(right):
        return _interval_shift(right, left, 1)
    result = _numeric(left, "+", right) + _numeric(right, "+", left)
    return clamp_int(result) if type(result) is int else result


def hog_sub(left: Any, right: Any) -> Any:
    if is_datetime(left) and is_interval(right):
        return _interval_shift(left, right, -1)
    result = _numeric(left, "-", right) - _numeric(right, "-", left)
    return clamp_int(result) if type(result) is int else result


def hog_mul(left: Any, right: Any) -> Any:
    result = _numeric(left, "*", right) * _numeric(right, "*", left)
    return clamp_int(result) if type(result) is int else result


def hog_div(left: Any, right: Any) -> Any:
    divisor = _numeric(right, "/", left)
    if divisor == 0:
        raise HogVMError("Division by zero")
    return _numeric(left, "/", right) / divisor


def hog_mod(left: Any, right: Any) -> Any:
    """Remainder with the sign of the dividend (C/JavaScript ``%``): ``-7 % 3 == -1``."""
    dividend = _numeric(left, "%", right)
    divisor = _numeric(right, "%", left)
    if divisor == 0:
        raise HogVMError("Modulo by zero")
    if type(dividend) is int and type(divisor) is int:
        remainder = abs(dividend) % abs(divisor)
        return -remainder if dividend < 0 else remainder
    return math.fmod(dividend, divisor)
