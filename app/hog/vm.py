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
from app.hog.opcodes import Op
from app.hog.operators import INT_LIMIT, clamp_int, hog_add, hog_div, hog_mod, hog_mul, hog_sub
from app.hog.regex import regex_search
from app.hog.values import Callable, Closure, get_property, hog_compare, hog_equals, hog_in, like
from app.hog.vm_support import CHECK_INTERVAL, VMSupport

_CONTAINERS = (list, tuple, dict)
# The loop's opcodes as plain ints, unpacked into locals once per run: a local costs what a literal
# does, an enum member lookup per opcode would not.
_LOOP_OPCODE_NAMES = """
GET_GLOBAL CALL_GLOBAL AND OR NOT PLUS MINUS MULTIPLY
DIVIDE MOD EQ NOT_EQ GT LT LT_EQ TRUE
FALSE NULL STRING INTEGER FLOAT POP GET_LOCAL SET_LOCAL
RETURN JUMP JUMP_IF_FALSE DECLARE_FN DICT ARRAY TUPLE GET_PROPERTY
SET_PROPERTY JUMP_IF_STACK_NOT_NULL GET_PROPERTY_NULLISH THROW TRY POP_TRY CALLABLE CLOSURE
CALL_LOCAL GET_UPVALUE SET_UPVALUE CLOSE_UPVALUE
"""
_LOOP_OPCODES = tuple(int(Op[name]) for name in _LOOP_OPCODE_NAMES.split())
# Sets rather than range checks: an operand-less garbage opcode (null, a string) must not raise.
_COMPARISONS = frozenset(range(Op.EQ, Op.LT_EQ + 1))
_MATCHES = frozenset(range(Op.LIKE, Op.NOT_IREGEX + 1))


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
        # Opcodes as locals, not literals: reading one costs the same (`bench/hog_vm_against.py`).
        # `op == A or op == B` on purpose (noqa SIM109): `op in (A, B)` builds a tuple of locals each time.
        (
            GET_GLOBAL,
            CALL_GLOBAL,
            AND,
            OR,
            NOT,
            PLUS,
            MINUS,
            MULTIPLY,
            DIVIDE,
            MOD,
            EQ,
            NOT_EQ,
            GT,
            LT,
            LT_EQ,
            TRUE,
            FALSE,
            NULL,
            STRING,
            INTEGER,
            FLOAT,
            POP,
            GET_LOCAL,
            SET_LOCAL,
            RETURN,
            JUMP,
            JUMP_IF_FALSE,
            DECLARE_FN,
            DICT,
            ARRAY,
            TUPLE,
            GET_PROPERTY,
            SET_PROPERTY,
            JUMP_IF_STACK_NOT_NULL,
            GET_PROPERTY_NULLISH,
            THROW,
            TRY,
            POP_TRY,
            CALLABLE,
            CLOSURE,
            CALL_LOCAL,
            GET_UPVALUE,
            SET_UPVALUE,
            CLOSE_UPVALUE,
        ) = _LOOP_OPCODES
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
                if op == GET_LOCAL:
                    stack.append(stack[start + code[ip + 1]])
                    ip += 2
                elif op == INTEGER or op == STRING or op == FLOAT:  # noqa: SIM109
                    stack.append(code[ip + 1])
                    ip += 2
                elif op == SET_LOCAL:
                    stack[start + code[ip + 1]] = stack.pop()
                    ip += 2
                elif op == JUMP_IF_FALSE:
                    offset = code[ip + 1]
                    ip += 2
                    if not stack.pop():
                        ip += offset
                        if offset < 0:
                            ip = self.backward_jump(ip, ops, len(stack))
                elif op == JUMP:
                    offset = code[ip + 1]
                    ip += 2 + offset
                    if offset < 0 and (ops >= next_check or ip < 0):
                        ip = self.backward_jump(ip, ops, len(stack))
                        next_check = ops + CHECK_INTERVAL
                elif op == POP:
                    stack.pop()
                    ip += 1
                elif op == PLUS or op == MINUS or op == MULTIPLY:  # noqa: SIM109
                    left = stack.pop()
                    right = stack[-1]
                    tl, tr = type(left), type(right)
                    if (tl is int or tl is float) and (tr is int or tr is float):
                        result = left + right if op == PLUS else (left - right if op == MINUS else left * right)
                        if type(result) is int and (result > INT_LIMIT or result < -INT_LIMIT):
                            result = clamp_int(result)
                        stack[-1] = result
                    else:
                        fn = hog_add if op == PLUS else (hog_sub if op == MINUS else hog_mul)
                        stack[-1] = result = fn(left, right)
                        if type(result) is str:
                            self.allocate(8 + len(result))
                    ip += 1
                elif op in _COMPARISONS:
                    left = stack.pop()
                    right = stack[-1]
                    tl = type(left)
                    fast = tl is type(right) and (tl is int or tl is str or tl is float)
                    if op == EQ:
                        stack[-1] = left == right if fast else hog_equals(left, right)
                    elif op == NOT_EQ:
                        stack[-1] = left != right if fast else not hog_equals(left, right)
                    elif op == LT:
                        stack[-1] = left < right if fast else hog_compare("<", left, right)
                    elif op == GT:
                        stack[-1] = left > right if fast else hog_compare(">", left, right)
                    elif op == LT_EQ:
                        stack[-1] = left <= right if fast else hog_compare("<=", left, right)
                    else:
                        stack[-1] = left >= right if fast else hog_compare(">=", left, right)
                    ip += 1
                elif op == CALL_GLOBAL:
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
                elif op == CALL_LOCAL:
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
                elif op == RETURN:
                    result = stack.pop()
                    returning = frames.pop()
                    if not frames:
                        return result
                    self.unwind_to(returning.stack_start)
                    stack.append(result)
                    frame = frames[-1]
                    code, ip, start = frame.code, frame.ip, frame.stack_start
                elif op == GET_UPVALUE:
                    upvalue = frame.closure.upvalues[code[ip + 1]]
                    stack.append(upvalue.value if upvalue.closed else stack[upvalue.location])
                    ip += 2
                elif op == SET_UPVALUE:
                    upvalue = frame.closure.upvalues[code[ip + 1]]
                    if upvalue.closed:
                        upvalue.value = stack.pop()
                    else:
                        stack[upvalue.location] = stack.pop()
                    ip += 2
                elif op == GET_PROPERTY or op == GET_PROPERTY_NULLISH:  # noqa: SIM109
                    key = stack.pop()
                    obj = stack[-1]
                    if type(obj) is dict and type(key) is str:
                        stack[-1] = obj.get(key)
                    else:
                        stack[-1] = get_property(obj, key)
                    ip += 1
                elif op == TRUE:
                    stack.append(True)
                    ip += 1
                elif op == FALSE:
                    stack.append(False)
                    ip += 1
                elif op == NULL:
                    stack.append(None)
                    ip += 1
                elif op == AND or op == OR:  # noqa: SIM109 (operands already evaluated: no short-circuit)
                    count = code[ip + 1]
                    values = stack[len(stack) - count :] if count else []
                    if count:
                        del stack[len(stack) - count :]
                    stack.append(all(values) if op == AND else any(values))
                    ip += 2
                elif op == NOT:
                    stack[-1] = not stack[-1]
                    ip += 1
                elif op == JUMP_IF_STACK_NOT_NULL:
                    offset = code[ip + 1]
                    ip += 2
                    if stack[-1] is not None:
                        ip += offset
                        if offset < 0:
                            ip = self.backward_jump(ip, ops, len(stack))
                elif op == DIVIDE or op == MOD:  # noqa: SIM109
                    left = stack.pop()
                    stack[-1] = hog_div(left, stack[-1]) if op == DIVIDE else hog_mod(left, stack[-1])
                    ip += 1
                elif op in _MATCHES:  # LIKE family, IN, NOT_IN, regex family
                    left = stack.pop()
                    stack[-1] = self.match_op(op, left, stack[-1])
                    ip += 1
                elif op == SET_PROPERTY:
                    self.set_property_op()
                    ip += 1
                elif op == CLOSE_UPVALUE:
                    self.close_upvalues(len(stack) - 1)
                    stack.pop()
                    ip += 1
                elif op == CLOSURE:
                    count = code[ip + 1]
                    stack[-1] = self.make_closure(stack[-1], code, ip + 2, count, frame)
                    ip += 2 + 2 * count
                elif op == CALLABLE:
                    arg_count, upvalue_count, body_length = code[ip + 2], code[ip + 3], code[ip + 4]
                    stack.append(Callable("local", code[ip + 1], frame.chunk, arg_count, upvalue_count, ip + 5))
                    ip += 5 + body_length
                elif op == DICT or op == ARRAY or op == TUPLE:  # noqa: SIM109
                    ip = self.build_container(op, code[ip + 1], ip + 2)
                elif op == GET_GLOBAL:
                    self.get_global(code[ip + 1])
                    ip += 2
                elif op == TRY:
                    self.throw_stack.append(TryHandler(len(frames), len(stack), ip + 1 + code[ip + 1]))
                    ip += 2
                elif op == POP_TRY:
                    if not self.throw_stack:
                        raise HogVMError("Invalid operation POP_TRY: no try block to pop")
                    self.throw_stack.pop()
                    ip += 1
                elif op == THROW:
                    frame.ip = ip
                    self.throw(stack.pop())
                    self.check_limits(ops, len(stack))
                    frame = frames[-1]
                    code, ip, start = frame.code, frame.ip, frame.stack_start
                elif op == DECLARE_FN:  # (deprecated)
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
        if op <= Op.NOT_ILIKE:
            matched = like(left, right, case_insensitive=op in (Op.ILIKE, Op.NOT_ILIKE))
            return matched if op in (Op.LIKE, Op.ILIKE) else not matched
        if op <= Op.NOT_IN:
            return hog_in(left, right) if op == Op.IN else not hog_in(left, right)
        # REGEX family: null or non-string on either side is false, for the negations too.
        if type(left) is not str or type(right) is not str:
            return False
        matched = regex_search(self, right, left, case_insensitive=op in (Op.IREGEX, Op.NOT_IREGEX))
        return matched if op in (Op.REGEX, Op.IREGEX) else not matched
