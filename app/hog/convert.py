"""Crossing the host boundary: Hog values <-> plain JSON-compatible Python values."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable as PyCallable
from typing import Any

from app.hog.printing import concat_part, function_repr
from app.hog.values import Callable, Closure

_NOTHING = object()
_FAST_DEPTH = 32  # deeper (or cyclic) data takes the iterative path


class _NotPlain(Exception):
    """The fast copies met something only ``_transform`` handles (see ``_plain_copy``)."""


def _plain_copy(value: Any, seen: set[int] | None, depth: int = 0) -> Any:
    """A copy of plain JSON data (exact ``dict`` with ``str`` keys, ``list``, ``None``/``bool``/``int``/``str``/
    finite ``float``), which is most of what crosses the boundary; raises ``_NotPlain`` on anything else.

    ``seen`` (the ``share`` mode) refuses a container met twice, so aliases and cycles keep
    ``_transform``'s meaning; without it a shared child is copied twice, as ``_transform`` does.
    """
    if depth > _FAST_DEPTH:
        raise _NotPlain
    if seen is not None:
        if id(value) in seen:
            raise _NotPlain
        seen.add(id(value))
    if type(value) is dict:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            t = type(item)
            if t is str or t is int or t is bool or item is None:
                out[key] = item
            elif t is dict or t is list:
                out[key] = _plain_copy(item, seen, depth + 1)
            elif t is float and math.isfinite(item):
                out[key] = item
            else:
                raise _NotPlain
        return out
    items: list[Any] = []
    for item in value:
        t = type(item)
        if t is str or t is int or t is bool or item is None:
            items.append(item)
        elif t is dict or t is list:
            items.append(_plain_copy(item, seen, depth + 1))
        elif t is float and math.isfinite(item):
            items.append(item)
        else:
            raise _NotPlain
    return items


def _kind(value: Any) -> int:
    if isinstance(value, dict):
        return 0
    if isinstance(value, list):
        return 1
    if isinstance(value, tuple):
        return 2
    return -1


def _transform(
    root: Any, leaf: PyCallable[[Any], Any], key: PyCallable[[Any], Any], share: bool, keep_tuples: bool = True
) -> Any:
    """Rebuild nested dicts/lists/tuples iteratively (no recursion limit on depth).

    ``share``: aliases stay aliases and cycles are kept; otherwise a container met again on
    its own path (a cycle) becomes ``None`` and shared children are copied.
    """
    kind = _kind(root)
    if kind < 0:
        return leaf(root)
    built: dict[int, Any] = {}
    on_path: set[int] = set()

    def open_frame(source: Any, kind: int) -> list[Any]:
        out: Any = {} if kind == 0 else []
        if kind != 2:
            built[id(source)] = out
        on_path.add(id(source))
        return [source, kind, list(source.items()) if kind == 0 else list(source), 0, out]

    def store(frame: list[Any], item: Any) -> None:
        if frame[1] == 0:
            frame[4][key(frame[2][frame[3]][0])] = item
        else:
            frame[4].append(item)
        frame[3] += 1

    stack = [open_frame(root, kind)]
    finished: Any = _NOTHING
    while stack:
        frame = stack[-1]
        if finished is not _NOTHING:
            store(frame, finished)
            finished = _NOTHING
            continue
        source, kind, entries, index, out = frame
        if index == len(entries):
            stack.pop()
            on_path.discard(id(source))
            finished = tuple(out) if kind == 2 and keep_tuples else out
            if kind == 2:
                built[id(source)] = finished
            if not stack:
                return finished
            continue
        child = entries[index][1] if kind == 0 else entries[index]
        child_kind = _kind(child)
        if child_kind < 0:
            store(frame, leaf(child))
        elif id(child) in on_path:
            store(frame, built.get(id(child)) if share else None)
        elif share and id(child) in built:
            store(frame, built[id(child)])
        else:
            stack.append(open_frame(child, child_kind))
    return None


def _same(value: Any) -> Any:
    return value


def copy_value(value: Any) -> Any:
    """Deep copy of containers, so Hog code never mutates host data (globals, host results)."""
    t = type(value)
    if t is not dict and t is not list and t is not tuple:
        return value
    return _transform(value, _same, _same, share=True)


def to_hog_value(value: Any) -> Any:
    """A host (JSON-like) value as a Hog value: containers copied, dates become Hog dates."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is dict or t is list:
        try:
            return _plain_copy(value, set())
        except _NotPlain:
            pass
    return _transform(value, _to_hog_leaf, _to_hog_key, share=True)


def _to_hog_key(key: Any) -> Any:
    return tuple(_to_hog_leaf(part) for part in key) if isinstance(key, tuple) else _to_hog_leaf(key)


def _to_hog_leaf(value: Any) -> Any:
    if value is None or type(value) in (bool, int, float, str):
        return value
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
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is dict or t is list:
        try:
            return _plain_copy(value, None)
        except _NotPlain:
            pass
    return _transform(value, _from_hog_leaf, _key, share=False, keep_tuples=False)


def _from_hog_leaf(item: Any) -> Any:
    t = type(item)
    if t is float and not math.isfinite(item):
        return None
    if t is Closure or t is Callable:
        return function_repr(item)
    return item


def _key(key: Any) -> str:
    if type(key) is str:
        return key
    if key is None:
        return "null"
    if type(key) is bool:
        return "true" if key else "false"
    return concat_part(key)
