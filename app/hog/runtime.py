"""Public entry points: ``execute`` a program, ``resume`` one paused on an async host call.

A host that answers the call in the same process can keep the paused VM in memory instead
(``execute(..., keep_paused=True)``, then ``resume_paused``) and encode it only if it must persist it
(``PausedVM.encode``): the same state ``execute`` would have returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.hog.convert import from_hog_value, to_hog_value
from app.hog.errors import HogVMError
from app.hog.frames import Chunk, Counters, Pause, Yield, parse_chunk
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
    paused: PausedVM | None = None  # the live VM, when paused (or yielded) with ``keep_paused``
    yielded: bool = False  # ``resume_paused`` ran out of its inline time: ``continue_paused`` goes on


class PausedVM:
    """A paused program kept in memory (not serialised): resume it once, or encode it to persist it."""

    __slots__ = ("vm",)

    def __init__(self, vm: VM) -> None:
        self.vm = vm

    def encode(self) -> dict[str, Any]:
        """The JSON-ready state, exactly what ``execute``/``resume`` return as ``ExecResult.state``."""
        vm = self.vm
        return encode_state(vm.chunks, vm.globals, vm, vm.counters)


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
    keep_paused: bool = False,
) -> ExecResult:
    """Run Hog bytecode; see the ``app.hog`` package docstring for the contract.

    With ``keep_paused`` a pause returns the live VM as ``paused`` (and no ``state``): see ``resume_paused``.
    """
    chunks = _load_chunks(bytecode, globals)
    counters = Counters()
    vm = VM(chunks, globals or {}, functions or {}, frozenset(async_functions), limits or Limits(), counters)
    vm.start_root()
    return _drive(vm, keep_paused)


def resume(
    state: dict[str, Any],
    value: Any,
    *,
    globals: dict[str, Any] | None = None,
    functions: dict[str, Callable[..., Any]] | None = None,
    async_functions: Iterable[str] = DEFAULT_ASYNC_FUNCTIONS,
    limits: Limits | None = None,
    keep_paused: bool = False,
) -> ExecResult:
    """Continue a paused program; ``value`` becomes the result of the pending async call.

    ``globals`` default to the ones stored in ``state``; pass them to replace them. ``keep_paused``: as
    for ``execute``.
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
    return _drive(vm, keep_paused)


def resume_paused(
    paused: PausedVM, value: Any, *, limits: Limits | None = None, yield_after: float | None = None
) -> ExecResult:
    """``resume`` for a VM kept in memory: the same run as resuming its encoded state, minus the round trip.

    The VM keeps the host functions it started with. ``paused`` is used up (resume it once). With
    ``yield_after`` (seconds), the run stops at the first loop iteration past that time and returns
    ``yielded``; ``continue_paused`` goes on from there (e.g. in a thread), under the same limits.
    """
    vm = paused.vm
    vm.counters.prints = []
    vm.begin_segment(limits or Limits())
    vm.yield_at = None if yield_after is None else vm.started + yield_after
    hog_value = to_hog_value(value)
    vm.allocate(deep_size([hog_value]))
    vm.stack.append(hog_value)
    return _drive(vm, keep_paused=True)


def continue_paused(paused: PausedVM) -> ExecResult:
    """Go on with a run that ``resume_paused`` yielded, without a time to yield at."""
    vm = paused.vm
    vm.yield_at = None
    vm.started = time.perf_counter()
    return _drive(vm, keep_paused=True)


def _drive(vm: VM, keep_paused: bool = False) -> ExecResult:
    counters = vm.counters
    started = time.perf_counter()
    try:
        result = vm.run()
    except Pause as pause:
        counters.duration_ms += (time.perf_counter() - started) * 1000
        vm.yield_at = None
        return ExecResult(
            finished=False,
            result=None,
            prints=counters.prints,
            async_call=AsyncCall(pause.name, from_hog_value(pause.call_args)),
            state=None if keep_paused else encode_state(vm.chunks, vm.globals, vm, counters),
            ops=counters.ops,
            duration_ms=counters.duration_ms,
            paused=PausedVM(vm) if keep_paused else None,
        )
    except Yield:
        counters.duration_ms += (time.perf_counter() - started) * 1000
        return ExecResult(
            finished=False,
            result=None,
            prints=counters.prints,
            ops=counters.ops,
            duration_ms=counters.duration_ms,
            paused=PausedVM(vm),
            yielded=True,
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
