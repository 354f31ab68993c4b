"""A tiny label-based assembler for hand-written Hog bytecode (the bytecode STL and tests).

Items are opcodes (``Op``), literal operands, ``Label("x")`` marks, ``Jump(Op.JUMP, "x")`` /
``Jump(Op.JUMP_IF_FALSE, "x")`` / ``Jump(Op.JUMP_IF_STACK_NOT_NULL, "x")`` and ``Try("x")`` whose
offsets are resolved to the marks. ``function()`` wraps a body into ``CALLABLE`` + ``CLOSURE``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.hog.opcodes import Op


@dataclass(frozen=True)
class Label:
    name: str


@dataclass(frozen=True)
class Jump:
    op: Op
    target: str


@dataclass(frozen=True)
class Try:
    """``TRY`` whose handler starts at ``target`` (the offset counts from the operand)."""

    target: str


def assemble(*items: Any) -> list[Any]:
    positions: dict[str, int] = {}
    size = 0
    for item in items:
        if isinstance(item, Label):
            positions[item.name] = size
        else:
            size += 2 if isinstance(item, Jump | Try) else 1
    code: list[Any] = []
    for item in items:
        if isinstance(item, Label):
            continue
        if isinstance(item, Jump):
            code.extend((int(item.op), positions[item.target] - (len(code) + 2)))
        elif isinstance(item, Try):
            code.extend((int(Op.TRY), positions[item.target] - (len(code) + 1)))
        else:
            code.append(int(item) if isinstance(item, Op) else item)
    return code


def function(name: str, arg_count: int, body: list[Any], captures: Sequence[tuple[bool, int]] = ()) -> list[Any]:
    """``CALLABLE`` + body + ``CLOSURE`` capturing ``(is_local, index)`` pairs."""
    pairs = [part for capture in captures for part in capture]
    return [int(Op.CALLABLE), name, arg_count, len(captures), len(body), *body, int(Op.CLOSURE), len(captures), *pairs]
