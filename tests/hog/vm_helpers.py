"""Tiny helpers for VM tests: hand-assembled bytecode and running it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.hog import ExecResult, HogVMError, Limits, execute
from app.hog.assembler import assemble
from app.hog.opcodes import Op

SUITE = Path(__file__).resolve().parents[2].parent / "shared" / "hog-suite"


def program(*parts: Any) -> list[Any]:
    """``["_H", 1, ...]`` assembled (``Op`` members, labels and jumps resolved)."""
    return ["_H", 1, *assemble(*parts)]


def run(*parts: Any, limits: Limits | None = None, **kwargs: Any) -> ExecResult:
    return execute(program(*parts), limits=limits, **kwargs)


def value(*parts: Any, **kwargs: Any) -> Any:
    """Result of an expression program."""
    return run(*parts, **kwargs).result


def error_message(*parts: Any, **kwargs: Any) -> str:
    """The message of the HogVMError the program raises."""
    try:
        run(*parts, **kwargs)
    except HogVMError as exc:
        return str(exc)
    raise AssertionError("program did not fail")


def call(name: str, *args: Any) -> list[Any]:
    """Bytecode pushing constant ``args`` and calling the global ``name``."""
    code: list[Any] = []
    for arg in args:
        code.extend(push(arg))
    return [*code, Op.CALL_GLOBAL, name, len(args)]


def push(arg: Any) -> list[Any]:
    if arg is None:
        return [Op.NULL]
    if arg is True:
        return [Op.TRUE]
    if arg is False:
        return [Op.FALSE]
    if isinstance(arg, int):
        return [Op.INTEGER, arg]
    if isinstance(arg, float):
        return [Op.FLOAT, arg]
    if isinstance(arg, str):
        return [Op.STRING, arg]
    if isinstance(arg, list):
        out: list[Any] = []
        for item in arg:
            out.extend(push(item))
        return [*out, Op.ARRAY, len(arg)]
    if isinstance(arg, tuple):
        out = []
        for item in arg:
            out.extend(push(item))
        return [*out, Op.TUPLE, len(arg)]
    if isinstance(arg, dict):
        out = []
        for key, item in arg.items():
            out.extend(push(key))
            out.extend(push(item))
        return [*out, Op.DICT, len(arg)]
    raise TypeError(arg)
