"""Hog runtime values and the coercion rules shared by the VM and the standard library.

Plain JSON-like Python values represent most Hog values (``None``, ``bool``, ``int``, ``float``,
``str``, ``list``, ``tuple``, ``dict``). Dates, datetimes, intervals and errors are dicts tagged with
PostHog's marker keys so they survive JSON untouched. Functions are the only objects: a
:class:`Callable` (code location) wrapped in a :class:`Closure` (captured :class:`Upvalue` cells).
"""

from __future__ import annotations

from typing import Any

from app.hog.errors import HogVMError
from app.hog.timeutil import EPOCH_DATE, date_to_python

DEFAULT_ERROR_MESSAGE = "An error occurred"


class Callable:
    """A function's code: bytecode chunk + entry ip (``local``), or a native/async name."""

    __slots__ = ("arg_count", "chunk", "ip", "kind", "name", "upvalue_count")

    def __init__(self, kind: str, name: str, chunk: str, arg_count: int, upvalue_count: int, ip: int) -> None:
        self.kind = kind  # "local" (bytecode), "stl" (native), "async" (host, pauses the VM)
        self.name = name
        self.chunk = chunk
        self.arg_count = arg_count
        self.upvalue_count = upvalue_count
        self.ip = ip

    def __repr__(self) -> str:
        return f"Callable({self.kind}, {self.name!r}, {self.chunk!r}, {self.arg_count}, ip={self.ip})"


class Upvalue:
    """A captured variable: open while its stack slot lives, closed (owning the value) after."""

    __slots__ = ("closed", "id", "location", "value")

    def __init__(self, id: int, location: int) -> None:
        self.id = id
        self.location = location
        self.closed = False
        self.value: Any = None


class Closure:
    __slots__ = ("callable", "upvalues")

    def __init__(self, callable: Callable, upvalues: list[Upvalue] | None = None) -> None:
        self.callable = callable
        self.upvalues = upvalues if upvalues is not None else []

    def __repr__(self) -> str:
        return f"Closure({self.callable!r})"


# --- tagged objects -------------------------------------------------------------------------------


def new_error(type: str, message: Any = None, payload: Any = None) -> dict[str, Any]:
    return {
        "__hogError__": True,
        "type": type,
        "message": DEFAULT_ERROR_MESSAGE if message is None else message,
        "payload": payload,
    }


def is_error(value: Any) -> bool:
    return type(value) is dict and value.get("__hogError__") is True


def is_date(value: Any) -> bool:
    return type(value) is dict and value.get("__hogDate__") is True


def is_datetime(value: Any) -> bool:
    return type(value) is dict and value.get("__hogDateTime__") is True


def is_interval(value: Any) -> bool:
    return type(value) is dict and value.get("__hogInterval__") is True


def is_function(value: Any) -> bool:
    return isinstance(value, Closure | Callable)


def is_number(value: Any) -> bool:
    t = type(value)
    return t is int or t is float


def hog_typeof(value: Any) -> str:
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "boolean"
    if t is int:
        return "integer"
    if t is float:
        return "float"
    if t is str:
        return "string"
    if t is list:
        return "array"
    if t is tuple:
        return "tuple"
    if t is dict:
        if value.get("__hogDateTime__") is True:
            return "datetime"
        if value.get("__hogDate__") is True:
            return "date"
        if value.get("__hogError__") is True:
            return "error"
        return "object"
    if t is Closure or t is Callable:
        return "function"
    return "unknown"


# --- equality and ordering (hog.md §5.2, §5.3) ----------------------------------------------------


def _to_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _instant(value: Any) -> float | None:
    """Seconds since the epoch for a Date (midnight UTC) or DateTime, else None."""
    if is_datetime(value):
        return float(value["dt"])
    if is_date(value):
        return float((date_to_python(value) - EPOCH_DATE).days * 86400)
    return None


def _unify(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Bring two scalars into one comparable domain; ``None`` when they can never match."""
    left_instant, right_instant = _instant(left), _instant(right)
    if left_instant is not None and right_instant is not None:
        # Two moments compare in time, whatever their zones.
        return left_instant, right_instant
    tl, tr = type(left), type(right)
    if tl is bool and tr is str:
        return left, right == "true"
    if tl is str and tr is bool:
        return left == "true", right
    if tl is bool and tr in (int, float):
        return int(left), right
    if tl in (int, float) and tr is bool:
        return left, int(right)
    if tl in (int, float) and tr is str:
        number = _to_number(right)
        return None if number is None else (left, number)
    if tl is str and tr in (int, float):
        number = _to_number(left)
        return None if number is None else (number, right)
    return left, right


def hog_equals(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is right
    unified = _unify(left, right)
    if unified is None:
        return False
    a, b = unified
    return bool(a == b)


def hog_compare(op: str, left: Any, right: Any) -> bool:
    """``<``, ``<=``, ``>``, ``>=`` with Hog coercion.

    A null operand counts as 0 against numbers (what the TypeScript VM that PostHog runs in
    production does, and what the ``nulls`` fixture expects: ``null < 3`` is true, ``null > 3``
    false); against anything else the comparison is false.
    """
    if left is None:
        if right is not None and not is_number(right) and type(right) is not bool:
            return False
        left = 0
    if right is None:
        if not is_number(left) and type(left) is not bool:
            return False
        right = 0
    unified = _unify(left, right)
    if unified is None:
        return False
    a, b = unified
    try:
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        raise HogVMError(f"Can not compare {hog_typeof(left)} and {hog_typeof(right)} with {op}") from None


def hog_in(needle: Any, haystack: Any) -> bool:
    t = type(haystack)
    if t is list or t is tuple:
        return any(hog_equals(needle, item) for item in haystack) if needle is not None else None in haystack
    if t is str:
        return type(needle) is str and needle in haystack
    if t is dict:
        try:
            return needle in haystack
        except TypeError:
            return False
    if haystack is None or t is int or t is float or t is bool:
        # Both of PostHog's VMs fail here (`null.includes(...)` in TypeScript, `x in None` in Python).
        raise HogVMError(f"Can not check membership in {hog_typeof(haystack)}")
    return False


# --- property access (hog.md §3.4) ----------------------------------------------------------------


def get_property(obj: Any, key: Any) -> Any:
    """Null-safe ``obj[key]``: 1-based integer indexes on arrays, tuples and strings."""
    if obj is None:
        return None
    t = type(obj)
    if t is dict:
        try:
            return obj.get(key)
        except TypeError:  # unhashable key
            return None
    if t is list or t is tuple or t is str:
        if type(key) is not int:
            if type(key) is float and key.is_integer():
                key = int(key)
            else:
                return None
        if key == 0:
            raise HogVMError("Hog arrays start from index 1")
        length = len(obj)
        if key > 0:
            return obj[key - 1] if key <= length else None
        return obj[key] if -key <= length else None
    return None


def set_property(obj: Any, key: Any, value: Any) -> None:
    t = type(obj)
    if t is dict:
        try:
            obj[key] = value
        except TypeError:
            raise HogVMError(f"Can not use a {hog_typeof(key)} as a dictionary key") from None
        return
    if t is list:
        if type(key) is not int:
            raise HogVMError(f'Can not set property "{key}" on array: index must be an integer')
        if key <= 0:
            if key == 0 or -key > len(obj):
                raise HogVMError("Hog arrays start from index 1")
            obj[key] = value
            return
        if key > len(obj):
            raise HogVMError(f"Index {key} out of bounds for array of length {len(obj)}")
        obj[key - 1] = value
        return
    raise HogVMError(f'Can not set property "{key}" on object of type "{hog_typeof(obj)}"')


# --- LIKE (hog.md §5.5) ---------------------------------------------------------------------------


def _segment_at(text: str, segment: str, start: int) -> int:
    """Earliest index >= start where ``segment`` (``_`` = any char) matches, or -1."""
    if "_" not in segment:
        return text.find(segment, start)
    last = len(text) - len(segment)
    for pos in range(start, last + 1):
        for offset, char in enumerate(segment):
            if char != "_" and text[pos + offset] != char:
                break
        else:
            return pos
    return -1


def like(text: Any, pattern: Any, case_insensitive: bool = False) -> bool:
    """Unanchored SQL LIKE (``%`` any run, ``_`` one char).

    Matched without regexes: greedy earliest placement of the ``%``-separated segments is exact
    for wildcard patterns and runs in O(len(text) * len(pattern)), so a hostile pattern cannot
    trigger catastrophic backtracking.
    """
    if type(text) is not str or type(pattern) is not str:
        return False
    if case_insensitive:
        text, pattern = text.lower(), pattern.lower()
    position = 0
    for segment in pattern.split("%"):
        if not segment:
            continue
        found = _segment_at(text, segment, position)
        if found < 0:
            return False
        position = found + len(segment)
    return True
