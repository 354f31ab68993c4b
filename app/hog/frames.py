"""Plain records of VM state: chunks, call frames, try handlers, and the pause signal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.hog.errors import HogVMError
from app.hog.opcodes import BYTECODE_MARKER, LEGACY_BYTECODE_MARKER
from app.hog.values import Callable, Closure


@dataclass
class Chunk:
    """One bytecode array. ``start`` skips the ``_H``/``_h`` header."""

    name: str
    code: list[Any]
    version: int
    start: int
    globals: dict[str, Any] | None = None


def parse_chunk(name: str, bytecode: Any, globals: dict[str, Any] | None = None) -> Chunk:
    if not isinstance(bytecode, list) or not bytecode:
        raise HogVMError("Invalid bytecode. Must start with '_H'")
    marker = bytecode[0]
    if marker == BYTECODE_MARKER:
        if len(bytecode) < 2 or type(bytecode[1]) is not int:
            raise HogVMError("Invalid bytecode: missing version")
        return Chunk(name, bytecode, bytecode[1], 2, globals)
    if marker == LEGACY_BYTECODE_MARKER:
        return Chunk(name, bytecode, 0, 1, globals)
    raise HogVMError("Invalid bytecode. Must start with '_H'")


class Frame:
    __slots__ = ("arg_count", "chunk", "closure", "code", "ip", "stack_start")

    def __init__(self, chunk: str, code: list[Any], ip: int, stack_start: int, arg_count: int, closure: Closure):
        self.chunk = chunk
        self.code = code
        self.ip = ip
        self.stack_start = stack_start
        self.arg_count = arg_count
        self.closure = closure


def root_closure(chunk: str = "root") -> Closure:
    return Closure(Callable("local", "", chunk, 0, 0, 0))


@dataclass(frozen=True, slots=True)
class TryHandler:
    call_len: int  # frames alive when the try began
    stack_len: int
    catch_ip: int


class Pause(Exception):
    """Internal: an async host function was called; the VM state is ready to serialise."""

    def __init__(self, name: str, args: list[Any]) -> None:
        super().__init__(name)
        self.name = name
        self.call_args = args


class Yield(Exception):
    """Internal: a resumed live program ran past its ``yield_at`` at a backward jump (state consistent)."""


@dataclass
class Counters:
    """Accounting that must survive pauses so limits span the whole program."""

    ops: int = 0
    async_steps: int = 0
    duration_ms: float = 0.0
    next_upvalue_id: int = 1
    prints: list[str] = field(default_factory=list)
