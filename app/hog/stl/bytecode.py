"""Higher-order STL functions written in Hog bytecode (``arrayMap``, ``arrayFilter``...).

They call user closures, so they run inside the VM loop as chunks named ``stl/<name>``: a call
into them is an ordinary frame, which keeps call-depth limits, try/catch and async pauses
working inside callbacks. The bytecode is assembled here from a tiny label-based listing.
Parameters are locals ``0..n-1`` (the function comes first, as in PostHog).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.hog.assembler import Jump, Label, assemble
from app.hog.opcodes import Op
from app.hog.stl.registry import StlContext
from app.hog.values import hog_typeof

PUSH = "__hogArrayPush"  # in-place append; resolvable only from stl/ chunks


def _loop(vals: int, index: int, body: tuple[Any, ...], after: tuple[Any, ...]) -> list[Any]:
    """``for index in 1..length(vals) { item := vals[index]; body }; after`` (item is local index+1)."""
    item = index + 1
    return assemble(
        Op.INTEGER, 1,  # index := 1
        Op.NULL,  # item
        Label("loop"),
        Op.GET_LOCAL, vals, Op.CALL_GLOBAL, "length", 1,
        Op.GET_LOCAL, index, Op.LT_EQ,
        Jump(Op.JUMP_IF_FALSE, "end"),
        Op.GET_LOCAL, vals, Op.GET_LOCAL, index, Op.GET_PROPERTY, Op.SET_LOCAL, item,
        *body,
        Label("next"),
        Op.INTEGER, 1, Op.GET_LOCAL, index, Op.PLUS, Op.SET_LOCAL, index,
        Jump(Op.JUMP, "loop"),
        Label("end"),
        *after,
    )  # fmt: skip


def _values_of(arr: int) -> list[Any]:
    return [int(Op.GET_LOCAL), arr, int(Op.CALL_GLOBAL), "values", 1]


def _array_map() -> list[Any]:
    # locals: 0 func, 1 arr, 2 vals, 3 result, 4 index, 5 item
    body = (
        Op.GET_LOCAL, 3, Op.GET_LOCAL, 5, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 1,
        Op.CALL_GLOBAL, PUSH, 2, Op.POP,
    )  # fmt: skip
    return [*_values_of(1), int(Op.ARRAY), 0, *_loop(2, 4, body, (Op.GET_LOCAL, 3, Op.RETURN))]


def _array_filter() -> list[Any]:
    body = (
        Op.GET_LOCAL, 5, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 1,
        Jump(Op.JUMP_IF_FALSE, "next"),
        Op.GET_LOCAL, 3, Op.GET_LOCAL, 5, Op.CALL_GLOBAL, PUSH, 2, Op.POP,
    )  # fmt: skip
    return [*_values_of(1), int(Op.ARRAY), 0, *_loop(2, 4, body, (Op.GET_LOCAL, 3, Op.RETURN))]


def _array_exists() -> list[Any]:
    # locals: 0 func, 1 arr, 2 vals, 3 index, 4 item
    body = (
        Op.GET_LOCAL, 4, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 1,
        Jump(Op.JUMP_IF_FALSE, "next"),
        Op.TRUE, Op.RETURN,
    )  # fmt: skip
    return [*_values_of(1), *_loop(2, 3, body, (Op.FALSE, Op.RETURN))]


def _array_count() -> list[Any]:
    # locals: 0 func, 1 arr, 2 vals, 3 count, 4 index, 5 item
    body = (
        Op.GET_LOCAL, 5, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 1,
        Jump(Op.JUMP_IF_FALSE, "next"),
        Op.INTEGER, 1, Op.GET_LOCAL, 3, Op.PLUS, Op.SET_LOCAL, 3,
    )  # fmt: skip
    return [*_values_of(1), int(Op.INTEGER), 0, *_loop(2, 4, body, (Op.GET_LOCAL, 3, Op.RETURN))]


def _array_reduce() -> list[Any]:
    # locals: 0 func, 1 arr, 2 accumulator (init), 3 vals, 4 index, 5 item
    body = (
        Op.GET_LOCAL, 2, Op.GET_LOCAL, 5, Op.GET_LOCAL, 0, Op.CALL_LOCAL, 2, Op.SET_LOCAL, 2,
    )  # fmt: skip
    return [*_values_of(1), *_loop(3, 4, body, (Op.GET_LOCAL, 2, Op.RETURN))]


@dataclass(frozen=True)
class BytecodeFunction:
    name: str
    params: tuple[str, ...]
    code: list[Any]

    @property
    def chunk(self) -> str:
        return f"stl/{self.name}"


BYTECODE_STL: dict[str, BytecodeFunction] = {
    fn.name: fn
    for fn in (
        BytecodeFunction("arrayMap", ("func", "arr"), _array_map()),
        BytecodeFunction("arrayFilter", ("func", "arr"), _array_filter()),
        BytecodeFunction("arrayExists", ("func", "arr"), _array_exists()),
        BytecodeFunction("arrayCount", ("func", "arr"), _array_count()),
        BytecodeFunction("arrayReduce", ("func", "arr", "initial"), _array_reduce()),
    )
}


def array_push(ctx: StlContext, args: list[Any]) -> None:
    target, item = args
    if type(target) is not list:
        raise TypeError(f"{PUSH} expects an array, got {hog_typeof(target)}")
    ctx.allocate(16 + (len(item) if type(item) is str else 0))
    target.append(item)
