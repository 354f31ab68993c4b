"""STL: arrays, tuples and dict keys/values. Inputs are never mutated."""

from __future__ import annotations

from typing import Any

from app.hog.errors import HogVMError
from app.hog.printing import concat_part
from app.hog.stl.core import plain_equals
from app.hog.stl.registry import StlContext, arg, stl


def _as_list(value: Any) -> list[Any]:
    return list(value) if type(value) in (list, tuple) else []


@stl("tuple", 0, None)
def _tuple(ctx: StlContext, args: list[Any]) -> tuple[Any, ...]:
    return tuple(args)


@stl("arrayPushBack", 2, 2)
def _push_back(ctx: StlContext, args: list[Any]) -> list[Any]:
    return [*_as_list(args[0]), args[1]]


@stl("arrayPushFront", 2, 2)
def _push_front(ctx: StlContext, args: list[Any]) -> list[Any]:
    return [args[1], *_as_list(args[0])]


@stl("arrayPopBack", 1, 1)
def _pop_back(ctx: StlContext, args: list[Any]) -> list[Any]:
    return _as_list(args[0])[:-1]


@stl("arrayPopFront", 1, 1)
def _pop_front(ctx: StlContext, args: list[Any]) -> list[Any]:
    return _as_list(args[0])[1:]


def _sorted(value: Any, reverse: bool) -> list[Any]:
    try:
        return sorted(_as_list(value), reverse=reverse)
    except TypeError:
        raise HogVMError("Can not sort an array of mixed types") from None


@stl("arraySort", 1, None)
def _sort(ctx: StlContext, args: list[Any]) -> list[Any]:
    return _sorted(args[0], reverse=False)


@stl("arrayReverseSort", 1, None)
def _reverse_sort(ctx: StlContext, args: list[Any]) -> list[Any]:
    return _sorted(args[0], reverse=True)


@stl("arrayReverse", 1, 1)
def _reverse(ctx: StlContext, args: list[Any]) -> list[Any]:
    return _as_list(args[0])[::-1]


@stl("arrayStringConcat", 1, 2)
def _string_concat(ctx: StlContext, args: list[Any]) -> str:
    separator = arg(args, 1, "")
    return concat_part(separator).join(concat_part(item) for item in _as_list(args[0]))


@stl("has", 2, 2)
def _has(ctx: StlContext, args: list[Any]) -> bool:
    return any(plain_equals(item, args[1]) for item in _as_list(args[0]))


@stl("indexOf", 2, 2)
def _index_of(ctx: StlContext, args: list[Any]) -> int:
    for index, item in enumerate(_as_list(args[0])):
        if plain_equals(item, args[1]):
            return index + 1
    return 0


@stl("in", 2, 2)
def _in(ctx: StlContext, args: list[Any]) -> bool:
    return any(plain_equals(item, args[0]) for item in _as_list(args[1]))


@stl("keys", 1, 1)
def _keys(ctx: StlContext, args: list[Any]) -> list[Any]:
    value = args[0]
    if type(value) is dict:
        return list(value.keys())
    if type(value) in (list, tuple):
        return list(range(len(value)))
    return []


@stl("values", 1, 1)
def _values(ctx: StlContext, args: list[Any]) -> list[Any]:
    value = args[0]
    if type(value) is dict:
        return list(value.values())
    return _as_list(value)
