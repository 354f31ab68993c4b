"""Public entry points: ``execute`` a program, ``resume`` one paused on an async host call."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.hog.convert import from_hog_value, to_hog_value
from app.hog.errors import HogVMError
from app.hog.frames import Chunk, Counters, Pause, parse_chunk
from app.hog.limits import Limits, deep_size
from app.hog.state import decode_state, encode_state, restore_frames
from app.hog.vm import VM

DEFAULT_ASYNC_FUNCTIONS: tuple[str, ...] = ("fetch",)


@dataclass
class AsyncCall:
    """The async host function the program is waiting on; ``args`` are plain JSON values."""

    name: str
    args: list[Any]


@dataclass
class ExecResult:
    finished: bool
    result: Any  # the Hog value (see from_hog_value); None while paused
    prints: list[str] = field(default_factory=list)  # lines printed during this run segment
    async_call: AsyncCall | None = None
    state: dict[str, Any] | None = None  # JSON-ready VM state when paused
    ops: int = 0  # total instructions executed, across pauses
    duration_ms: float = 0.0  # total synchronous run time, across pauses


def _load_chunks(bytecode: Any, globals: dict[str, Any] | None) -> dict[str, Chunk]:
    if isinstance(bytecode, dict) and isinstance(bytecode.get("bytecodes"), dict):
        chunks = {}
        for name, spec in bytecode["bytecodes"].items():
            if not isinstance(spec, dict):
                raise HogVMError(f"Invalid bytecode chunk: {name}")
            chunks[name] = parse_chunk(name, spec.get("bytecode"), spec.get("globals"))
        if "root" not in chunks:
            raise HogVMError("Invalid bytecode: no root chunk")
        return chunks
    return {"root": parse_chunk("root", bytecode)}


def execute(
    bytecode: list[Any] | dict[str, Any],
    globals: dict[str, Any] | None = None,
    *,
    functions: dict[str, Callable[..., Any]] | None = None,
    async_functions: Iterable[str] = DEFAULT_ASYNC_FUNCTIONS,
    limits: Limits | None = None,
) -> ExecResult:
    """Run Hog bytecode; see the ``app.hog`` package docstring for the contract."""
    chunks = _load_chunks(bytecode, globals)
    counters = Counters()
    vm = VM(chunks, globals or {}, functions or {}, frozenset(async_functions), limits or Limits(), counters)
    vm.start_root()
    return _drive(vm)


def resume(
    state: dict[str, Any],
    value: Any,
    *,
    globals: dict[str, Any] | None = None,
    functions: dict[str, Callable[..., Any]] | None = None,
    async_functions: Iterable[str] = DEFAULT_ASYNC_FUNCTIONS,
    limits: Limits | None = None,
) -> ExecResult:
    """Continue a paused program; ``value`` becomes the result of the pending async call.

    ``globals`` default to the ones stored in ``state``; pass them to replace them.
    """
    decoded = decode_state(state)
    vm = VM(
        decoded["chunks"],
        globals if globals is not None else decoded["globals"],
        functions or {},
        frozenset(async_functions),
        limits or Limits(),
        decoded["counters"],
    )
    restore_frames(vm, decoded)
    hog_value = to_hog_value(value)
    vm.allocate(deep_size([hog_value]))
    vm.stack.append(hog_value)
    return _drive(vm)


def _drive(vm: VM) -> ExecResult:
    counters = vm.counters
    started = time.perf_counter()
    try:
        result = vm.run()
    except Pause as pause:
        counters.duration_ms += (time.perf_counter() - started) * 1000
        state = encode_state(vm.chunks, vm.globals, vm, counters)
        return ExecResult(
            finished=False,
            result=None,
            prints=counters.prints,
            async_call=AsyncCall(pause.name, from_hog_value(pause.call_args)),
            state=state,
            ops=counters.ops,
            duration_ms=counters.duration_ms,
        )
    except HogVMError as exc:
        counters.duration_ms += (time.perf_counter() - started) * 1000
        exc.prints = counters.prints
        exc.ops = counters.ops
        raise
    counters.duration_ms += (time.perf_counter() - started) * 1000
    return ExecResult(
        finished=True,
        result=result,
        prints=counters.prints,
        ops=counters.ops,
        duration_ms=counters.duration_ms,
    )
