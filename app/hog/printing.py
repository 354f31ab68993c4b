"""Hog value formatting: ``print()``, ``concat()``, f-strings and ``toString()`` (hog.md §3.10).

The printer is iterative (an explicit work stack) so arbitrarily deep structures cannot exhaust
Python's recursion limit, and it tracks the containers on the current path so a cycle prints as
``null`` while a container shared by siblings still prints in full.
"""

from __future__ import annotations

import re
from typing import Any

from app.hog.timeutil import datetime_to_iso
from app.hog.values import Callable, Closure

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")

_STRING_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "\b": "\\b",
    "\f": "\\f",
    "\r": "\\r",
    "\n": "\\n",
    "\t": "\\t",
    "\0": "\\0",
    "\a": "\\a",
    "\v": "\\v",
}
_STRING_ESCAPE_RE = re.compile("[\\\\'\b\f\r\n\t\0\a\v]")
_IDENTIFIER_ESCAPES = {**_STRING_ESCAPES, "`": "``", "'": "'"}
_IDENTIFIER_ESCAPE_RE = re.compile("[\\\\`\b\f\r\n\t\0\a\v]")


def escape_string(text: str) -> str:
    return "'" + _STRING_ESCAPE_RE.sub(lambda m: _STRING_ESCAPES[m.group(0)], text) + "'"


def escape_identifier(name: str) -> str:
    if _IDENTIFIER.match(name):
        return name
    return "`" + _IDENTIFIER_ESCAPE_RE.sub(lambda m: _IDENTIFIER_ESCAPES[m.group(0)], name) + "`"


def function_repr(value: Closure | Callable) -> str:
    target = value.callable if isinstance(value, Closure) else value
    return f"fn<{escape_identifier(target.name or 'lambda')}({target.arg_count})>"


def _scalar_repr(value: Any) -> str | None:
    if value is None:
        return "null"
    t = type(value)
    if t is bool:
        return "true" if value else "false"
    if t is int or t is float:
        return str(value)
    if t is str:
        return escape_string(value)
    if t is Closure or t is Callable:
        return function_repr(value)
    return None


_TEXT, _VALUE, _LEAVE = 0, 1, 2


def _push_items(work: list[tuple[int, Any]], items: list[Any], opener: str, closer: str, out: list[str]) -> None:
    out.append(opener)
    work.append((_TEXT, closer))
    for index in range(len(items) - 1, -1, -1):
        work.append((_VALUE, items[index]))
        if index:
            work.append((_TEXT, ", "))


def _push_tagged(value: dict[str, Any], work: list[tuple[int, Any]], out: list[str]) -> bool:
    """Format dates, datetimes and errors; False when ``value`` is a plain dict."""
    if value.get("__hogDateTime__") is True:
        out.append(f"DateTime({float(value.get('dt') or 0)}, {escape_string(str(value.get('zone', 'UTC')))})")
        return True
    if value.get("__hogDate__") is True:
        out.append(f"Date({value.get('year')}, {value.get('month')}, {value.get('day')})")
        return True
    if value.get("__hogError__") is True:
        out.append(f"{value.get('type')}(")
        work.append((_TEXT, ")"))
        if value.get("payload") is not None:
            work.append((_VALUE, value.get("payload")))
            work.append((_TEXT, ", "))
        work.append((_VALUE, value.get("message")))
        return True
    return False


def print_hog_value(value: Any) -> str:
    """The repr form: strings quoted, containers recursive, cycles as ``null``."""
    scalar = _scalar_repr(value)
    if scalar is not None:
        return scalar
    out: list[str] = []
    on_path: set[int] = set()
    work: list[tuple[int, Any]] = [(_VALUE, value)]
    while work:
        kind, item = work.pop()
        if kind == _TEXT:
            out.append(item)
            continue
        if kind == _LEAVE:
            on_path.discard(item)
            continue
        scalar = _scalar_repr(item)
        if scalar is not None:
            out.append(scalar)
            continue
        t = type(item)
        if t is not list and t is not tuple and t is not dict:
            out.append(escape_string(str(item)))
            continue
        if id(item) in on_path:
            out.append("null")
            continue
        if t is dict and _push_tagged(item, work, out):
            continue
        on_path.add(id(item))
        work.append((_LEAVE, id(item)))
        if t is list:
            _push_items(work, item, "[", "]", out)
        elif t is tuple:
            if len(item) < 2:
                _push_items(work, list(item), "tuple(", ")", out)
            else:
                _push_items(work, list(item), "(", ")", out)
        else:
            _push_dict(work, item, out)
    return "".join(out)


def _push_dict(work: list[tuple[int, Any]], value: dict[Any, Any], out: list[str]) -> None:
    out.append("{")
    work.append((_TEXT, "}"))
    entries = list(value.items())
    for index in range(len(entries) - 1, -1, -1):
        key, item = entries[index]
        work.append((_VALUE, item))
        work.append((_TEXT, ": "))
        work.append((_VALUE, key))
        if index:
            work.append((_TEXT, ", "))


def print_arg(value: Any) -> str:
    """One ``print()`` argument: top-level strings raw, everything else in repr form."""
    return value if type(value) is str else print_hog_value(value)


def concat_part(value: Any) -> str:
    """One ``concat()``/f-string part: like ``print`` but ``null`` becomes empty."""
    if value is None:
        return ""
    return value if type(value) is str else print_hog_value(value)


def to_string(value: Any) -> str:
    t = type(value)
    if t is str:
        return value
    if t is dict:
        if value.get("__hogDateTime__") is True:
            return datetime_to_iso(float(value.get("dt") or 0), str(value.get("zone") or "UTC"))
        if value.get("__hogDate__") is True:
            return f"{int(value['year']):04d}-{int(value['month']):02d}-{int(value['day']):02d}"
    return print_hog_value(value)
