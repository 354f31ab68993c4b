"""VM state and every slow path of the interpreter loop (``vm.py``).

Calls and returns, globals, upvalues, exceptions, container building and resource accounting.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable as PyCallable
from typing import Any

from app.hog.convert import from_hog_value, to_hog_value
from app.hog.errors import (
    HogMemoryError,
    HogStackOverflowError,
    HogStepLimitError,
    HogTimeoutError,
    HogVMError,
    UncaughtHogError,
)
from app.hog.frames import Chunk, Counters, Frame, Pause, TryHandler, Yield, root_closure
from app.hog.limits import MAX_FUNCTION_ARGS, Limits, alloc_size, deep_size
from app.hog.opcodes import Op
from app.hog.stl import BYTECODE_STL, PRIVATE_STL, STL, StlFunction
from app.hog.values import Callable, Closure, Upvalue, get_property, is_error, set_property

CHECK_INTERVAL = 1024  # ops between time/step checks on loops and calls

_STL_CHUNKS = {fn.chunk: fn.code for fn in BYTECODE_STL.values()}
_STL_VERSIONS = {name: 1 for name in _STL_CHUNKS}
_natives_cache: dict[frozenset[str], dict[str, StlFunction]] = {}


def natives_for(excluded: frozenset[str]) -> dict[str, StlFunction]:
    """The native STL minus names a host overrides (cached: built once per host setup)."""
    cached = _natives_cache.get(excluded)
    if cached is None:
        cached = {name: fn for name, fn in STL.items() if name not in excluded}
        if len(_natives_cache) < 64:
            _natives_cache[excluded] = cached
    return cached


class VMSupport:
    def __init__(
        self,
        chunks: dict[str, Chunk],
        globals: dict[str, Any],
        functions: dict[str, PyCallable[..., Any]],
        async_functions: frozenset[str],
        limits: Limits,
        counters: Counters,
    ) -> None:
        self.chunks = chunks
        self.chunk_code: dict[str, list[Any]] = dict(_STL_CHUNKS)
        self.chunk_versions: dict[str, int] = dict(_STL_VERSIONS)
        for name, chunk in chunks.items():
            self.chunk_code[name] = chunk.code
            self.chunk_versions[name] = chunk.version
        # Per-chunk globals only exist in the multi-chunk form; None = every chunk reads ``globals``.
        self.chunk_globals = {n: c.globals for n, c in chunks.items() if c.globals is not None} or None
        self.globals = globals
        self.host_functions = functions
        self.async_functions = async_functions
        self.natives = natives_for(frozenset(functions) | async_functions if functions else async_functions)
        self.limits = limits
        self.counters = counters
        self.stack: list[Any] = []
        self.frames: list[Frame] = []
        self.throw_stack: list[TryHandler] = []
        self.open_upvalues: list[Upvalue] = []
        self.declared: dict[str, tuple[str, int, int]] = {}
        self.yield_at: float | None = None  # see ``Yield``: a live resume hands its rest to a thread
        self.begin_segment(limits)

    def begin_segment(self, limits: Limits) -> None:
        """Per-run accounting, as a VM rebuilt from its state starts it (prints are the segment's own)."""
        self.limits = limits
        self.started = time.perf_counter()
        self.print_bytes = sum(8 + len(line) for line in self.counters.prints)
        self.mem_live = 0
        self.mem_pending = 0
        self.mem_slack = limits.memory_bytes
        self.stack_len_at_measure = 0

    def start_root(self) -> None:
        root = self.chunks["root"]
        self.frames.append(Frame("root", root.code, root.start, 0, 0, root_closure()))

    # --- accounting -------------------------------------------------------------------------------

    def elapsed_seconds(self) -> float:
        return self.counters.duration_ms / 1000 + (time.perf_counter() - self.started)

    def remaining_seconds(self) -> float:
        return self.limits.timeout_s - self.elapsed_seconds()

    def _check_time(self, ops: int | None = None) -> None:
        if self.elapsed_seconds() > self.limits.timeout_s:
            done = self.counters.ops if ops is None else ops
            raise HogTimeoutError(f"Execution timed out after {self.limits.timeout_s:g} seconds. Performed {done} ops.")

    def check_limits(self, ops: int, stack_len: int) -> None:
        self._check_time(ops)
        if self.limits.max_ops is not None and ops > self.limits.max_ops:
            raise HogStepLimitError(f"Exceeded maximum number of operations: {self.limits.max_ops}")
        growth = 8 * max(0, stack_len - self.stack_len_at_measure)
        if growth + self.mem_pending > self.mem_slack:
            self.measure_memory()

    def check_deadline(self) -> None:
        self.check_limits(self.counters.ops, len(self.stack))

    def backward_jump(self, ip: int, ops: int, stack_len: int) -> int:
        if ip < 0:
            raise HogVMError("Invalid bytecode: jump before the start of the chunk")
        self.check_limits(ops, stack_len)
        if self.yield_at is not None and time.perf_counter() > self.yield_at:
            raise Yield
        return ip

    def allocate(self, size: int) -> None:
        self.mem_pending += size
        if self.mem_pending > self.mem_slack:
            self.measure_memory(size)

    def allocate_value(self, value: Any, deep: bool = False) -> None:
        self.allocate(deep_size([value]) if deep else alloc_size(value))

    def measure_memory(self, extra: int = 0) -> None:
        """Walk everything reachable; ``extra`` is a value being built that is not yet reachable."""
        limit = self.limits.memory_bytes
        roots: list[Any] = list(self.stack)
        roots.extend(frame.closure for frame in self.frames)
        live = deep_size(roots, stop_at=limit, tick=self._check_time) + extra + self.print_bytes
        if live > limit:
            raise HogMemoryError(f"Memory limit of {limit} bytes exceeded. Attempted to use {live} bytes")
        self.mem_live = live
        self.mem_pending = 0
        self.mem_slack = limit - live
        self.stack_len_at_measure = len(self.stack)
        self._check_time()

    def add_print(self, line: str) -> None:
        self.counters.prints.append(line)
        self.print_bytes += 8 + len(line)
        self.allocate(8 + len(line))

    # --- frames and unwinding ---------------------------------------------------------------------

    def unwind_to(self, level: int) -> None:
        """Drop stack slots from ``level`` (closing captured ones) and handlers of dead frames."""
        if self.open_upvalues and self.open_upvalues[-1].location >= level:
            self.close_upvalues(level)
        del self.stack[level:]
        depth = len(self.frames)
        throw_stack = self.throw_stack
        while throw_stack and throw_stack[-1].call_len > depth:
            throw_stack.pop()

    def end_of_chunk(self) -> tuple[bool, Any]:
        returning = self.frames.pop()
        if not self.frames:
            return True, (self.stack[-1] if self.stack else None)
        self.unwind_to(returning.stack_start)
        self.stack.append(None)
        return False, None

    def push_frame(self, chunk: str, ip: int, argc: int, closure: Closure) -> None:
        if len(self.frames) >= self.limits.max_call_depth:
            raise HogStackOverflowError(
                f"Stack overflow: call stack exceeded maximum length of {self.limits.max_call_depth}"
            )
        self.frames.append(Frame(chunk, self.chunk_code[chunk], ip, len(self.stack) - argc, argc, closure))

    def throw(self, error: Any) -> None:
        if not is_error(error):
            raise HogVMError("Can not throw: value is not of type Error")
        if not self.throw_stack:
            raise UncaughtHogError(str(error.get("type")), error.get("message"), error.get("payload"))
        handler = self.throw_stack.pop()
        if self.open_upvalues and self.open_upvalues[-1].location >= handler.stack_len:
            self.close_upvalues(handler.stack_len)
        del self.stack[handler.stack_len :]
        del self.frames[handler.call_len :]
        self.stack.append(error)
        self.frames[-1].ip = handler.catch_ip

    # --- upvalues ---------------------------------------------------------------------------------

    def close_upvalues(self, level: int) -> None:
        open_upvalues, stack = self.open_upvalues, self.stack
        while open_upvalues and open_upvalues[-1].location >= level:
            upvalue = open_upvalues.pop()
            upvalue.value = stack[upvalue.location]
            upvalue.closed = True

    def capture(self, location: int) -> Upvalue:
        for upvalue in reversed(self.open_upvalues):
            if upvalue.location == location:
                return upvalue
            if upvalue.location < location:
                break
        upvalue = Upvalue(self.counters.next_upvalue_id, location)
        self.counters.next_upvalue_id += 1
        bisect.insort(self.open_upvalues, upvalue, key=lambda item: item.location)
        return upvalue

    def make_closure(self, target: Any, code: list[Any], pos: int, count: int, frame: Frame) -> Closure:
        if type(target) is not Callable:
            raise HogVMError("Invalid operation CLOSURE: no callable on the stack")
        if count != target.upvalue_count:
            raise HogVMError(f"Invalid closure: expected {target.upvalue_count} upvalues, got {count}")
        upvalues = []
        for index in range(count):
            is_local, slot = code[pos + 2 * index], code[pos + 2 * index + 1]
            if is_local:
                upvalues.append(self.capture(frame.stack_start + slot))
            else:
                upvalues.append(frame.closure.upvalues[slot])
        return Closure(target, upvalues)

    # --- values -----------------------------------------------------------------------------------

    def build_container(self, op: int, count: int, next_ip: int) -> int:
        stack = self.stack
        size = 2 * count if op == Op.DICT else count
        if size > len(stack):
            raise HogVMError("Invalid bytecode: not enough values on the stack")
        items = stack[len(stack) - size :] if size else []
        del stack[len(stack) - size :]
        value: Any
        if op == Op.DICT:
            pairs = iter(items)  # key, value, key, value...
            try:
                value = dict(zip(pairs, pairs, strict=False))
            except TypeError:
                raise HogVMError("Can not use an array, dict or function as a dictionary key") from None
        else:
            value = items if op == Op.ARRAY else tuple(items)
        self.allocate(8 + 8 * size)
        stack.append(value)
        return next_ip

    def set_property_op(self) -> None:
        stack = self.stack
        value = stack.pop()
        key = stack.pop()
        target = stack.pop()
        set_property(target, key, value)
        self.allocate(16 + (len(key) if type(key) is str else 0))

    def get_global(self, count: int) -> None:
        stack = self.stack
        globals = self.globals
        if self.chunk_globals is not None:
            globals = self.chunk_globals.get(self.frames[-1].chunk, globals)
        if count == 2 and len(stack) >= 2:
            # `a.b` (`inputs.url`, `event.properties`...), the most common read: no chain to build.
            head = stack[-1]
            if type(head) is str and head in globals:
                key = stack[-2]
                del stack[-2:]
                value = globals[head]
                value = value.get(key) if type(value) is dict and type(key) is str else get_property(value, key)
                self._push_global(value)
                return
        chain = [stack.pop()] if count == 1 else [stack.pop() for _ in range(count)]
        head = chain[0] if chain else None
        if type(head) is str and head in globals:
            value = globals[head]
            for index in range(1, count):
                if value is None:
                    break
                value = get_property(value, chain[index])
            self._push_global(value)
            return
        if count == 1 and type(head) is str:
            closure = self.function_closure(head)
            if closure is not None:
                stack.append(closure)
                return
        raise HogVMError(f"Global variable not found: {'.'.join(str(part) for part in chain)}")

    def _push_global(self, value: Any) -> None:
        t = type(value)
        if t is list or t is tuple or t is dict:
            value = to_hog_value(value)  # a copy: programs must never mutate host data
            self.allocate_value(value, deep=True)
        elif not (value is None or t is str or t is int or t is float or t is bool):
            value = to_hog_value(value)  # e.g. a Python datetime given as a global
        self.stack.append(value)

    def function_closure(self, name: str) -> Closure | None:
        if name in self.async_functions:
            return Closure(Callable("async", name, "", 0, 0, 0))
        if name in self.host_functions:
            return Closure(Callable("host", name, "", 0, 0, 0))
        native = STL.get(name)
        if native is not None:
            return Closure(Callable("stl", name, "", native.display_arg_count, 0, 0))
        bytecode_fn = BYTECODE_STL.get(name)
        if bytecode_fn is not None:
            return Closure(Callable("local", name, bytecode_fn.chunk, len(bytecode_fn.params), 0, 0))
        return None

    # --- calls ------------------------------------------------------------------------------------

    def pop_args(self, argc: int, version: int = 1) -> list[Any]:
        if argc > MAX_FUNCTION_ARGS:
            raise HogVMError("Too many arguments")
        stack = self.stack
        if argc > len(stack):
            raise HogVMError("Invalid bytecode: not enough arguments on the stack")
        cut = len(stack) - argc
        if self.open_upvalues and self.open_upvalues[-1].location >= cut:
            self.close_upvalues(cut)
        args = stack[cut:]
        del stack[cut:]
        if version == 0:
            args.reverse()  # v0 pushed arguments in reverse
        return args

    def call_global(self, name: str, argc: int) -> bool:
        """Every CALL_GLOBAL but the plain native fast path; True when a frame was pushed."""
        frame = self.frames[-1]
        version = self.chunk_versions.get(frame.chunk, 1)
        if name in self.declared:
            chunk, ip, arg_count = self.declared[name]
            if argc > arg_count:
                raise HogVMError(f"Too many arguments. Passed {argc}, expected {arg_count}")
            self.stack.extend([None] * (arg_count - argc))
            self.push_frame(chunk, ip, arg_count, root_closure(chunk))
            return True
        if name == "import":
            return self._import(argc, version)
        if name in self.async_functions:
            self._pause(name, self.pop_args(argc, version))
        host = self.host_functions.get(name)
        if host is not None:
            self._push_host_result(host(*from_hog_value(self.pop_args(argc, version))))
            self.check_deadline()
            return False
        native = STL.get(name) or (PRIVATE_STL.get(name) if frame.chunk.startswith("stl/") else None)
        if native is not None:
            native.check_arity(argc)
            self._push_native_result(native, native.fn(self, self.pop_args(argc, version)))
            return False
        bytecode_fn = BYTECODE_STL.get(name)
        if bytecode_fn is not None:
            if argc != len(bytecode_fn.params):
                raise HogVMError(f"Function {name} requires exactly {len(bytecode_fn.params)} arguments")
            self.push_frame(bytecode_fn.chunk, 0, argc, root_closure(bytecode_fn.chunk))
            return True
        raise HogVMError(f"Unsupported function call: {name}")

    def call_native_closure(self, target: Callable, argc: int) -> None:
        if target.kind == "stl":
            native = STL.get(target.name)
            if native is None:
                raise HogVMError(f"Unsupported function call: {target.name}")
            native.check_arity(argc)
            self._push_native_result(native, native.fn(self, self.pop_args(argc)))
        elif target.kind == "host":
            host = self.host_functions.get(target.name)
            if host is None:
                raise HogVMError(f"Unsupported function call: {target.name}")
            self._push_host_result(host(*from_hog_value(self.pop_args(argc))))
        elif target.kind == "async":
            self._pause(target.name, self.pop_args(argc))
        else:
            raise HogVMError("Invalid closure")

    def _push_native_result(self, native: StlFunction, result: Any) -> None:
        if type(result) in (str, list, tuple, dict):
            self.allocate_value(result, native.deep_result)
        self.stack.append(result)

    def _push_host_result(self, result: Any) -> None:
        value = to_hog_value(result)
        if type(value) in (str, list, tuple, dict):
            self.allocate_value(value, deep=True)
        self.stack.append(value)

    def _pause(self, name: str, args: list[Any]) -> None:
        if self.counters.async_steps >= self.limits.max_async_steps:
            raise HogVMError(f"Exceeded maximum number of async steps: {self.limits.max_async_steps}")
        self.counters.async_steps += 1
        raise Pause(name, args)

    def _import(self, argc: int, version: int) -> bool:
        if argc != 1:
            raise HogVMError("Function import requires exactly 1 argument")
        name = self.pop_args(1, version)[0]
        chunk = self.chunks.get(name) if type(name) is str else None
        if chunk is None:
            raise HogVMError(f"Unknown chunk to import: {name}")
        self.push_frame(chunk.name, chunk.start, 0, root_closure(chunk.name))
        return True
