"""STL: printing, types and conversions, logic, numbers, errors."""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

from app.hog.errors import HogVMError
from app.hog.operators import hog_add, hog_sub
from app.hog.printing import concat_part, print_arg, to_string
from app.hog.stl.registry import StlContext, arg, stl
from app.hog.values import hog_compare, hog_typeof, is_date, is_datetime, is_number, new_error

# --- output and strings of values -----------------------------------------------------------------


@stl("print", 0, None)
def _print(ctx: StlContext, args: list[Any]) -> None:
    ctx.add_print(" ".join(print_arg(value) for value in args))


@stl("concat", 1, None)
def _concat(ctx: StlContext, args: list[Any]) -> str:
    return "".join(concat_part(value) for value in args)


@stl("toString", 1, 2)
def _to_string(ctx: StlContext, args: list[Any]) -> str:
    return to_string(args[0])


@stl("toUUID", 1, 1)
def _to_uuid(ctx: StlContext, args: list[Any]) -> str:
    return to_string(args[0])


@stl("typeof", 1, 1)
def _typeof(ctx: StlContext, args: list[Any]) -> str:
    return hog_typeof(args[0])


@stl("generateUUIDv4", 0, 0)
def _uuid4(ctx: StlContext, args: list[Any]) -> str:
    return str(uuid.uuid4())


# --- conversions ----------------------------------------------------------------------------------


def _parse_number_text(text: str) -> float | None:
    cleaned = text.strip()
    if not cleaned or "_" in cleaned:
        return None
    try:
        return float(cleaned)
    except ValueError:
        return None


def to_int(value: Any) -> int | None:
    t = type(value)
    if t is int:
        return value
    if t is bool:
        return int(value)
    if t is float:
        return int(value) if math.isfinite(value) else None
    if t is str:
        cleaned = value.strip()
        if cleaned and "_" not in cleaned:
            try:
                return int(cleaned)
            except ValueError:
                pass
        number = _parse_number_text(value)
        return int(number) if number is not None and math.isfinite(number) else None
    if is_datetime(value):
        return int(float(value["dt"]))
    if is_date(value):
        from app.hog.timeutil import EPOCH_DATE, date_to_python

        return (date_to_python(value) - EPOCH_DATE).days
    return None


def to_float(value: Any) -> float | None:
    t = type(value)
    if t is float:
        return value
    if t is int or t is bool:
        return float(value)
    if t is str:
        return _parse_number_text(value)
    if is_datetime(value):
        return float(value["dt"])
    if is_date(value):
        days = to_int(value)
        return float(days) if days is not None else None
    return None


@stl("toInt", 1, 1)
def _to_int(ctx: StlContext, args: list[Any]) -> int | None:
    return to_int(args[0])


@stl("toFloat", 1, 1)
def _to_float(ctx: StlContext, args: list[Any]) -> float | None:
    return to_float(args[0])


# --- numbers --------------------------------------------------------------------------------------


@stl("plus", 2, 2)
def _plus(ctx: StlContext, args: list[Any]) -> Any:
    return hog_add(args[0], args[1])


@stl("minus", 2, 2)
def _minus(ctx: StlContext, args: list[Any]) -> Any:
    return hog_sub(args[0], args[1])


def _number_arg(value: Any, fn: str) -> int | float:
    if is_number(value):
        return value
    if type(value) is bool:
        return int(value)
    raise HogVMError(f"Function {fn} expects a number, got {hog_typeof(value)}")


@stl("min2", 2, 2)
def _min2(ctx: StlContext, args: list[Any]) -> Any:
    return min(_number_arg(args[0], "min2"), _number_arg(args[1], "min2"))


@stl("max2", 2, 2)
def _max2(ctx: StlContext, args: list[Any]) -> Any:
    return max(_number_arg(args[0], "max2"), _number_arg(args[1], "max2"))


@stl("floor", 1, 2)
def _floor(ctx: StlContext, args: list[Any]) -> Any:
    if args[0] is None:
        return None
    value = _number_arg(args[0], "floor")
    return math.floor(value) if math.isfinite(value) else value


@stl("round", 1, 2)
def _round(ctx: StlContext, args: list[Any]) -> Any:
    if args[0] is None:
        return None
    value = _number_arg(args[0], "round")
    return round(value) if math.isfinite(value) else value


@stl("range", 1, 2)
def _range(ctx: StlContext, args: list[Any]) -> list[int]:
    if len(args) == 1:
        start, stop = 0, args[0]
    else:
        start, stop = args[0], args[1]
    if type(start) is not int or type(stop) is not int:
        raise HogVMError("Function range expects integer arguments")
    # Charge before building: range(1e9) must fail fast, not after allocating gigabytes.
    ctx.allocate(8 + 8 * max(0, stop - start))
    return list(range(start, stop))


@stl("randomFloat", 0, 0)
def _random_float(ctx: StlContext, args: list[Any]) -> float:
    return random.random()


# --- comparisons and logic ------------------------------------------------------------------------


def plain_equals(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    if is_number(left) and is_number(right):
        return bool(left == right)
    return type(left) is type(right) and bool(left == right)


@stl("equals", 2, 2)
def _equals(ctx: StlContext, args: list[Any]) -> bool:
    return plain_equals(args[0], args[1])


@stl("notEquals", 2, 2)
def _not_equals(ctx: StlContext, args: list[Any]) -> bool:
    return not plain_equals(args[0], args[1])


def _register_ordering(name: str, op: str) -> None:
    # PostHog's production (TypeScript) VM evaluates `greater(a, b)` as JavaScript's `a > b`: the
    # comparison operators' coercion (null counts as 0 against numbers), and false, never an
    # error, for values that do not compare.
    def compare(ctx: StlContext, args: list[Any]) -> bool:
        try:
            return hog_compare(op, args[0], args[1])
        except HogVMError:
            return False

    stl(name, 2, 2)(compare)


_register_ordering("greater", ">")
_register_ordering("greaterOrEquals", ">=")
_register_ordering("less", "<")
_register_ordering("lessOrEquals", "<=")


@stl("not", 1, 1)
def _not(ctx: StlContext, args: list[Any]) -> bool:
    return not args[0]


@stl("and", 1, None)
def _and(ctx: StlContext, args: list[Any]) -> bool:
    return all(bool(value) for value in args)


@stl("or", 1, None)
def _or(ctx: StlContext, args: list[Any]) -> bool:
    return any(bool(value) for value in args)


@stl("if", 3, 3)
def _if(ctx: StlContext, args: list[Any]) -> Any:
    return args[1] if args[0] else args[2]


@stl("multiIf", 3, None)
def _multi_if(ctx: StlContext, args: list[Any]) -> Any:
    for index in range(0, len(args) - 1, 2):
        if args[index]:
            return args[index + 1]
    return args[-1] if len(args) % 2 == 1 else None


@stl("ifNull", 2, 2)
def _if_null(ctx: StlContext, args: list[Any]) -> Any:
    return args[1] if args[0] is None else args[0]


@stl("coalesce", 1, None)
def _coalesce(ctx: StlContext, args: list[Any]) -> Any:
    return next((value for value in args if value is not None), None)


@stl("assumeNotNull", 1, 1)
def _assume_not_null(ctx: StlContext, args: list[Any]) -> Any:
    if args[0] is None:
        raise HogVMError("Value is null")
    return args[0]


@stl("isNull", 1, 1)
def _is_null(ctx: StlContext, args: list[Any]) -> bool:
    return args[0] is None


@stl("isNotNull", 1, 1)
def _is_not_null(ctx: StlContext, args: list[Any]) -> bool:
    return args[0] is not None


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if type(value) in (bool, int, float):
        return False
    if type(value) in (str, list, tuple, dict):
        return len(value) == 0
    return False


@stl("empty", 1, 1)
def _empty(ctx: StlContext, args: list[Any]) -> bool:
    return is_empty(args[0])


@stl("notEmpty", 1, 1)
def _not_empty(ctx: StlContext, args: list[Any]) -> bool:
    return not is_empty(args[0])


# --- errors, cohorts, sleep -----------------------------------------------------------------------


@stl("Error", 0, 2)
def _error(ctx: StlContext, args: list[Any]) -> dict[str, Any]:
    return new_error("Error", arg(args, 0), arg(args, 1))


@stl("HogError", 1, 3)
def _hog_error(ctx: StlContext, args: list[Any]) -> dict[str, Any]:
    return new_error(str(arg(args, 0, "Error")), arg(args, 1), arg(args, 2))


@stl("RetryError", 0, 2)
def _retry_error(ctx: StlContext, args: list[Any]) -> dict[str, Any]:
    return new_error("RetryError", arg(args, 0), arg(args, 1))


@stl("NotImplementedError", 0, 2)
def _not_implemented_error(ctx: StlContext, args: list[Any]) -> dict[str, Any]:
    return new_error("NotImplementedError", arg(args, 0), arg(args, 1))


def _cohort_member(args: list[Any]) -> bool:
    wanted = str(args[0]) if args[0] is not None else None
    cohorts = args[1] if type(args[1]) in (list, tuple) else []
    return wanted is not None and any(str(item) == wanted for item in cohorts)


@stl("inCohort", 2, 2)
def _in_cohort(ctx: StlContext, args: list[Any]) -> bool:
    return _cohort_member(args)


@stl("notInCohort", 2, 2)
def _not_in_cohort(ctx: StlContext, args: list[Any]) -> bool:
    return not _cohort_member(args)


@stl("sleep", 1, 1)
def _sleep(ctx: StlContext, args: list[Any]) -> None:
    """Refused: blocking would hold a worker thread or the event loop. A host where waiting makes sense
    (a function step) lists `sleep` among its async functions, so the VM pauses and the host awaits."""
    _number_arg(args[0], "sleep")
    raise HogVMError("sleep() is not available here: only function steps may sleep")
