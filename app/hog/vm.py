"""The Hog bytecode interpreter (hog.md §2-§3).

``VM.run()`` executes until the program finishes, raises, or calls an async host function (then
it raises :class:`Pause` with the VM left in a serialisable state, see ``state.py``).

The main loop is deliberately one long function: the current frame, code, ip and stack live in
locals and the hottest opcodes are inlined in frequency order, which is what makes a CPython
interpreter loop fast. Rare opcodes and every slow path live in ``VMSupport`` methods.
"""

from __future__ import annotations

import time
from typing import Any

from app.hog.errors import HogMemoryError, HogStackOverflowError, HogVMError
from app.hog.frames import Frame, Pause, TryHandler
from app.hog.operators import INT_LIMIT, clamp_int, hog_add, hog_div, hog_mod, hog_mul, hog_sub
from app.hog.regex import regex_search
from app.hog.values import Callable, Closure, get_property, hog_compare, hog_equals, hog_in, like
from app.hog.vm_support import CHECK_INTERVAL, VMSupport

_CONTAINERS = (list, tuple, dict)
# Sets rather than range checks: an operand-less garbage opcode (null, a string) must not raise.
_COMPARISONS = frozenset(range(11, 17))
_MATCHES = frozenset(range(17, 27))


class VM(VMSupport):
    def run(self) -> Any:
        """Run to completion and return the result (raises ``Pause`` on async calls)."""
        try:
            return self._loop()
        except (HogVMError, Pause):
            raise
        except RecursionError:
            raise HogVMError("Value nested too deeply (maximum recursion depth exceeded)") from None
        except MemoryError:
            raise HogMemoryError(f"Memory limit of {self.limits.memory_bytes} bytes exceeded") from None
        except IndexError as exc:
            raise HogVMError(f"Invalid bytecode: {exc}") from None
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError, ZeroDivisionError) as exc:
            raise HogVMError(f"{type(exc).__name__}: {exc}") from None

    def _loop(self) -> Any:
        stack = self.stack
        frames = self.frames
        frame = frames[-1]
        code = frame.code
        ip = frame.ip
        start = frame.stack_start
        natives = self.natives
        max_depth = self.limits.max_call_depth
        ops = self.counters.ops
        next_check = ops + CHECK_INTERVAL
        deadline = self.started + self.remaining_seconds()
        perf_counter = time.perf_counter
        try:
            while True:
                try:
                    op = code[ip]
                except IndexError:
                    if ip < len(code):
                        raise
                    # Implicit return at the end of a chunk.
                    frame.ip = ip
                    finished, value = self.end_of_chunk()
                    if finished:
                        return value
                    frame = frames[-1]
                    code, ip, start = frame.code, frame.ip, frame.stack_start
                    continue
                ops += 1
                if op == 36:  # GET_LOCAL
                    stack.append(stack[start + code[ip + 1]])
                    ip += 2
                elif op == 33 or op == 32 or op == 34:  # INTEGER, STRING, FLOAT
                    stack.append(code[ip + 1])
                    ip += 2
                elif op == 37:  # SET_LOCAL
                    stack[start + code[ip + 1]] = stack.pop()
                    ip += 2
                elif op == 40:  # JUMP_IF_FALSE
                    offset = code[ip + 1]
                    ip += 2
                    if not stack.pop():
                        ip += offset
                        if offset < 0:
                            ip = self.backward_jump(ip, ops, len(stack))
                elif op == 39:  # JUMP
                    offset = code[ip + 1]
                    ip += 2 + offset
                    if offset < 0 and (ops >= next_check or ip < 0):
                        ip = self.backward_jump(ip, ops, len(stack))
                        next_check = ops + CHECK_INTERVAL
                elif op == 35:  # POP
                    stack.pop()
                    ip += 1
                elif op == 6 or op == 7 or op == 8:  # PLUS, MINUS, MULTIPLY
                    left = stack.pop()
                    right = stack[-1]
                    tl, tr = type(left), type(right)
                    if (tl is int or tl is float) and (tr is int or tr is float):
                        result = left + right if op == 6 else (left - right if op == 7 else left * right)
                        if type(result) is int and (result > INT_LIMIT or result < -INT_LIMIT):
                            result = clamp_int(result)
                        stack[-1] = result
                    else:
                        fn = hog_add if op == 6 else (hog_sub if op == 7 else hog_mul)
                        stack[-1] = result = fn(left, right)
                        if type(result) is str:
                            self.allocate(8 + len(result))
                    ip += 1
                elif op in _COMPARISONS:  # EQ, NOT_EQ, GT, GT_EQ, LT, LT_EQ
                    left = stack.pop()
                    right = stack[-1]
                    tl = type(left)
                    fast = tl is type(right) and (tl is int or tl is str or tl is float)
                    if op == 11:
                        stack[-1] = left == right if fast else hog_equals(left, right)
                    elif op == 12:
                        stack[-1] = left != right if fast else not hog_equals(left, right)
                    elif op == 15:
                        stack[-1] = left < right if fast else hog_compare("<", left, right)
                    elif op == 13:
                        stack[-1] = left > right if fast else hog_compare(">", left, right)
                    elif op == 16:
                        stack[-1] = left <= right if fast else hog_compare("<=", left, right)
                    else:
                        stack[-1] = left >= right if fast else hog_compare(">=", left, right)
                    ip += 1
                elif op == 2:  # CALL_GLOBAL
                    name = code[ip + 1]
                    argc = code[ip + 2]
                    ip += 3
                    entry = natives.get(name)
                    if entry is not None and not self.declared:
                        if argc < entry.min_args or (entry.max_args is not None and argc > entry.max_args):
                            entry.check_arity(argc)
                        if argc:
                            cut = len(stack) - argc
                            args = stack[cut:]
                            del stack[cut:]
                            if self.chunk_versions[frame.chunk] == 0:
                                args.reverse()
                        else:
                            args = []
                        frame.ip = ip
                        result = entry.fn(self, args)
                        if type(result) is str:
                            self.mem_pending += 8 + len(result)
                            if self.mem_pending > self.mem_slack:
                                self.measure_memory()
                        elif type(result) in _CONTAINERS:
                            self.allocate_value(result, entry.deep_result)
                        stack.append(result)
                        # One native call can be slow (hashing or parsing megabytes): check the
                        # clock after each, so overshoot is bounded by one call, not 1024 ops.
                        if perf_counter() > deadline:
                            self.check_limits(ops, len(stack))
                    else:
                        frame.ip = ip
                        if self.call_global(name, argc):
                            frame = frames[-1]
                            code, ip, start = frame.code, frame.ip, frame.stack_start
                    if ops >= next_check:
                        self.check_limits(ops, len(stack))
                        next_check = ops + CHECK_INTERVAL
                elif op == 54:  # CALL_LOCAL
                    argc = code[ip + 1]
                    ip += 2
                    closure = stack.pop()
                    if type(closure) is not Closure:
                        raise HogVMError("Invalid closure")
                    target = closure.callable
                    if target.kind == "local":
                        expected = target.arg_count
                        if argc > expected:
                            raise HogVMError(f"Too many arguments. Passed {argc}, expected {expected}")
                        while argc < expected:
                            stack.append(None)
                            argc += 1
                        if len(frames) >= max_depth:
                            raise HogStackOverflowError(
                                f"Stack overflow: call stack exceeded maximum length of {max_depth}"
                            )
                        frame.ip = ip
                        frame = Frame(
                            target.chunk,
                            self.chunk_code[target.chunk],
                            target.ip,
                            len(stack) - expected,
                            expected,
                            closure,
                        )
                        frames.append(frame)
                        code, ip, start = frame.code, frame.ip, frame.stack_start
                    else:
                        frame.ip = ip
                        self.call_native_closure(target, argc)
                    if ops >= next_check:
                        self.check_limits(ops, len(stack))
                        next_check = ops + CHECK_INTERVAL
                elif op == 38:  # RETURN
                    result = stack.pop()
                    returning = frames.pop()
                    if not frames:
                        return result
                    self.unwind_to(returning.stack_start)
                    stack.append(result)
                    frame = frames[-1]
                    code, ip, start = frame.code, frame.ip, frame.stack_start
                elif op == 55:  # GET_UPVALUE
                    upvalue = frame.closure.upvalues[code[ip + 1]]
                    stack.append(upvalue.value if upvalue.closed else stack[upvalue.location])
                    ip += 2
                elif op == 56:  # SET_UPVALUE
                    upvalue = frame.closure.upvalues[code[ip + 1]]
                    if upvalue.closed:
                        upvalue.value = stack.pop()
                    else:
                        stack[upvalue.location] = stack.pop()
                    ip += 2
                elif op == 45 or op == 48:  # GET_PROPERTY, GET_PROPERTY_NULLISH
                    key = stack.pop()
                    obj = stack[-1]
                    if type(obj) is dict and type(key) is str:
                        stack[-1] = obj.get(key)
                    else:
                        stack[-1] = get_property(obj, key)
                    ip += 1
                elif op == 29:  # TRUE
                    stack.append(True)
                    ip += 1
                elif op == 30:  # FALSE
                    stack.append(False)
                    ip += 1
                elif op == 31:  # NULL
                    stack.append(None)
                    ip += 1
                elif op == 3 or op == 4:  # AND, OR (operands already evaluated: no short-circuit)
                    count = code[ip + 1]
                    values = stack[len(stack) - count :] if count else []
                    if count:
                        del stack[len(stack) - count :]
                    stack.append(all(values) if op == 3 else any(values))
                    ip += 2
                elif op == 5:  # NOT
                    stack[-1] = not stack[-1]
                    ip += 1
                elif op == 47:  # JUMP_IF_STACK_NOT_NULL
                    offset = code[ip + 1]
                    ip += 2
                    if stack[-1] is not None:
                        ip += offset
                        if offset < 0:
                            ip = self.backward_jump(ip, ops, len(stack))
                elif op == 9 or op == 10:  # DIVIDE, MOD
                    left = stack.pop()
                    stack[-1] = hog_div(left, stack[-1]) if op == 9 else hog_mod(left, stack[-1])
                    ip += 1
                elif op in _MATCHES:  # LIKE family, IN, NOT_IN, regex family
                    left = stack.pop()
                    stack[-1] = self.match_op(op, left, stack[-1])
                    ip += 1
                elif op == 46:  # SET_PROPERTY
                    self.set_property_op()
                    ip += 1
                elif op == 57:  # CLOSE_UPVALUE
                    self.close_upvalues(len(stack) - 1)
                    stack.pop()
                    ip += 1
                elif op == 53:  # CLOSURE
                    count = code[ip + 1]
                    stack[-1] = self.make_closure(stack[-1], code, ip + 2, count, frame)
                    ip += 2 + 2 * count
                elif op == 52:  # CALLABLE
                    arg_count, upvalue_count, body_length = code[ip + 2], code[ip + 3], code[ip + 4]
                    stack.append(Callable("local", code[ip + 1], frame.chunk, arg_count, upvalue_count, ip + 5))
                    ip += 5 + body_length
                elif op == 42 or op == 43 or op == 44:  # DICT, ARRAY, TUPLE
                    ip = self.build_container(op, code[ip + 1], ip + 2)
                elif op == 1:  # GET_GLOBAL
                    self.get_global(code[ip + 1])
                    ip += 2
                elif op == 50:  # TRY
                    self.throw_stack.append(TryHandler(len(frames), len(stack), ip + 1 + code[ip + 1]))
                    ip += 2
                elif op == 51:  # POP_TRY
                    if not self.throw_stack:
                        raise HogVMError("Invalid operation POP_TRY: no try block to pop")
                    self.throw_stack.pop()
                    ip += 1
                elif op == 49:  # THROW
                    frame.ip = ip
                    self.throw(stack.pop())
                    self.check_limits(ops, len(stack))
                    frame = frames[-1]
                    code, ip, start = frame.code, frame.ip, frame.stack_start
                elif op == 41:  # DECLARE_FN (deprecated)
                    self.declared[code[ip + 1]] = (frame.chunk, ip + 4, code[ip + 2])
                    ip += 4 + code[ip + 3]
                elif op is None:
                    ip += 1
                else:
                    raise HogVMError(f'Unexpected node while running bytecode in chunk "{frame.chunk}": {op}')
        finally:
            self.counters.ops = ops
            frame.ip = ip

    # --- opcode helpers that need the loop's context ----------------------------------------------

    def match_op(self, op: int, left: Any, right: Any) -> bool:
        if op <= 20:  # LIKE, ILIKE, NOT_LIKE, NOT_ILIKE
            matched = like(left, right, case_insensitive=op in (18, 20))
            return matched if op in (17, 18) else not matched
        if op <= 22:  # IN, NOT_IN
            return hog_in(left, right) if op == 21 else not hog_in(left, right)
        # REGEX family: null or non-string on either side is false, for the negations too.
        if type(left) is not str or type(right) is not str:
            return False
        matched = regex_search(self, right, left, case_insensitive=op in (25, 26))
        return matched if op in (23, 25) else not matched
