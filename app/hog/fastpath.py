"""Straight-line Hog bytecode (filters) compiled to a Python function: the fast path beside the VM.

``fast_program(bytecode)`` returns a :class:`FastProgram` (or ``None`` when the bytecode is outside
the supported subset); ``program.run(globals, limits)`` returns exactly what
``execute(bytecode, globals, limits=limits).result`` returns, raises the VM's ``HogTimeoutError``
when the VM would time out, and raises :class:`FastPathUnavailable` whenever the caller must run
the VM instead. The VM stays the reference; this module only removes its dispatch loop and setup.

1. Decoding: the program is ``["_H", version >= 1, ...]`` made only of constants, ``GET_GLOBAL``,
   property reads, ``NOT``/``AND``/``OR``, comparisons, arithmetic, ``LIKE``/``IN``/regex ops,
   container literals, native STL calls (not ``print``/``sleep``/async/bytecode-STL functions),
   ``POP``, root locals, forward ``if``/``else`` and ``??`` jumps, and a top-level ``RETURN``. No loops
   and no calls into bytecode, so at most one pass over the instructions runs.
2. Translation: each stack slot is a local variable ``s<n>`` and each op one statement, in the VM's
   order. Values come from the VM's own helpers (``hog_equals``, ``hog_compare``,
   ``get_property``, ``like``, ``hog_in``, ``regex_search``, the STL natives, ``to_hog_value``)
   behind the same inlined fast cases the VM uses, so coercions, ``null`` semantics and property
   access on missing keys are the VM's. Constants are closure variables of the generated
   function: no string from the bytecode ever becomes source code, only ``s<n>``/``k<n>`` names
   and small integer literals do.
3. Limits: no loops means ops <= instructions, so the op budget is checked once, statically.
   Time is checked after each native call and inside regexes, as the VM does, with the VM's
   message and op count (the clock starts at the first native call: what runs before it is a
   few microseconds of straight-line code). Memory is counted with the VM's cost model; the run hands over to the
   VM before the first point where the VM would measure memory (it never errs before that).
4. Handing over: a global that is missing (the VM may resolve it to a function), host functions,
   and every error but a timeout raise :class:`FastPathUnavailable`; the caller then runs the VM,
   so error messages are the VM's own. Nothing is lost: the fast path has no side effects.

Compiled programs are cached by bytecode identity and then by content (typed, so ``1``, ``1.0``
and ``true`` never share an entry); bytecode is assumed not to change in place once evaluated,
which holds for flows (their bytecode is stored JSON, replaced as a whole on save).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from app.hog.convert import to_hog_value
from app.hog.errors import HogTimeoutError
from app.hog.limits import Limits, alloc_size, deep_size
from app.hog.operators import INT_LIMIT, clamp_int, hog_add, hog_div, hog_mod, hog_mul, hog_sub
from app.hog.regex import regex_search
from app.hog.stl import STL
from app.hog.values import get_property, hog_compare, hog_equals, hog_in, like

DEFAULT_LIMITS = Limits()
# Natives that need more of the VM than the fast path's context offers.
_UNSUPPORTED_NATIVES = frozenset({"print", "sleep", "fetch"})
_CACHE_SIZE = 4096
# Bigger or deeper programs stay on the VM: translating them would cost more than it saves, and
# Python's parser refuses deeply indented source.
MAX_BYTECODE_LENGTH = 20_000
MAX_NESTING = 40
_SCALARS = frozenset({type(None), str, int, float, bool})
_CONTAINERS = (list, tuple, dict)
_MISSING = object()
_perf_counter = time.perf_counter


class FastPathUnavailable(Exception):
    """The fast path cannot give this run's answer: run the VM."""


class _Unsupported(Exception):
    """Compile time: the bytecode is outside the supported subset."""


class _Context:
    """What natives and the generated code ask of the VM, for one run (see ``StlContext``)."""

    __slots__ = ("cap", "deadline", "limits", "pending", "started")

    def __init__(self, limits: Limits, reserve: int) -> None:
        self.limits = limits
        self.pending = 0
        self.cap = limits.memory_bytes - reserve
        self.started = _perf_counter()
        self.deadline = self.started + limits.timeout_s

    def allocate(self, size: int) -> None:
        self.pending += size
        if self.pending > self.cap:
            raise FastPathUnavailable("memory")

    def remaining_seconds(self) -> float:
        return self.limits.timeout_s - (_perf_counter() - self.started)

    def check_deadline(self) -> None:
        # Inside the VM's loop its counters still hold 0 ops: its message says so too.
        if _perf_counter() - self.started > self.limits.timeout_s:
            self.timeout(0)

    def timeout(self, ops: int) -> None:
        raise HogTimeoutError(f"Execution timed out after {self.limits.timeout_s:g} seconds. Performed {ops} ops.")

    def add_print(self, line: str) -> None:
        raise FastPathUnavailable("print")

    def global_value(self, value: Any) -> Any:
        """A global that is not a plain scalar, as ``VMSupport.get_global`` pushes it."""
        t = type(value)
        value = to_hog_value(value)
        if t is list or t is tuple or t is dict:
            self.allocate(deep_size([value]))
        return value

    def call(self, entry: Any, args: list[Any], ops: int) -> Any:
        result = entry.fn(self, args)
        t = type(result)
        if t is str:
            self.allocate(8 + len(result))
        elif t is list or t is tuple or t is dict:
            self.allocate(deep_size([result]) if entry.deep_result else alloc_size(result))
        if _perf_counter() > self.deadline:
            self.timeout(ops)
        return result

    def arith(self, op: int, left: Any, right: Any) -> Any:
        tl, tr = type(left), type(right)
        if (tl is int or tl is float) and (tr is int or tr is float):
            result = left + right if op == 6 else (left - right if op == 7 else left * right)
            if type(result) is int and (result > INT_LIMIT or result < -INT_LIMIT):
                result = clamp_int(result)
            return result
        result = (hog_add if op == 6 else (hog_sub if op == 7 else hog_mul))(left, right)
        if type(result) is str:
            self.allocate(8 + len(result))
        return result


class FastProgram:
    __slots__ = ("fits_default", "fn", "ops", "reserve", "source")

    def __init__(self, fn: Callable[[Mapping[str, Any], Limits], Any], ops: int, reserve: int, source: str) -> None:
        self.fn = fn
        self.ops = ops  # instructions: an upper bound of the ops any run executes
        self.reserve = reserve  # memory cost the VM may count without this run seeing it
        self.source = source  # the generated Python, for debugging and tests
        self.fits_default = self.fits(DEFAULT_LIMITS)

    def fits(self, limits: Limits) -> bool:
        """No op-budget error is possible and the memory reserve fits the budget."""
        return (limits.max_ops is None or self.ops <= limits.max_ops) and self.reserve <= limits.memory_bytes

    def run(self, globals: Mapping[str, Any], limits: Limits | None = None) -> Any:
        if limits is None:
            if not self.fits_default:
                raise FastPathUnavailable("limits")
            limits = DEFAULT_LIMITS
        elif not self.fits(limits):
            raise FastPathUnavailable("limits")
        try:
            return self.fn(globals, limits)
        except (HogTimeoutError, FastPathUnavailable):
            raise
        except Exception as exc:  # the VM gives the error, with its own message
            raise FastPathUnavailable("error") from exc


# --- decoding -------------------------------------------------------------------------------------

_NO_OPERAND = frozenset({5, 6, 7, 8, 9, 10, *range(11, 27), 29, 30, 31, 35, 38, 45, 48})
_ONE_OPERAND = frozenset({1, 3, 4, 32, 33, 34, 36, 37, 39, 40, 42, 43, 44, 47})
_JUMPS = frozenset({39, 40, 47})


def _decode(code: list[Any]) -> list[tuple[int, int, Any, Any]]:
    """``(position, op, operand, operand)`` per instruction, from after the header."""
    out: list[tuple[int, int, Any, Any]] = []
    pos = 2
    while pos < len(code):
        op = code[pos]
        if type(op) is not int:
            raise _Unsupported(f"opcode {op!r}")
        if op in _NO_OPERAND:
            out.append((pos, op, None, None))
            pos += 1
        elif op in _ONE_OPERAND:
            if pos + 1 >= len(code):
                raise _Unsupported("truncated")
            out.append((pos, op, code[pos + 1], None))
            pos += 2
        elif op == 2:
            if pos + 2 >= len(code):
                raise _Unsupported("truncated")
            out.append((pos, op, code[pos + 1], code[pos + 2]))
            pos += 3
        else:
            raise _Unsupported(f"opcode {op}")
    return out


# --- code generation ------------------------------------------------------------------------------

_COMPARE_SYMBOL = {11: "==", 12: "!=", 13: ">", 14: ">=", 15: "<", 16: "<="}
_LITERALS = {None: "None", True: "True", False: "False"}


def _is_slot(entry: str) -> bool:
    return entry.startswith("s")


class _Generator:
    def __init__(self, code: list[Any]) -> None:
        self.instrs = _decode(code)
        self.index_of = {pos: index for index, (pos, _, _, _) in enumerate(self.instrs)}
        self.end_pos = len(code)
        self.bindings: dict[str, Any] = {}
        self.bound: dict[int, str] = {}
        self.context_ready = False  # the context certainly exists at this point of the code
        self.const_names: dict[tuple[type, Any], str] = {}
        self.const_values: dict[str, Any] = {}
        self.max_depth = 0
        self.static_alloc = 0
        self.uses_context = False
        has_branch = any(op in _JUMPS for _, op, _, _ in self.instrs)
        self.track_ops = has_branch and any(op == 2 for _, op, _, _ in self.instrs)
        self.ops = 0  # ops executed since the last flush into the runtime counter ``o``

    # -- values --

    def bind(self, value: Any) -> str:
        name = self.bound.get(id(value))
        if name is None:
            name = self.bound[id(value)] = f"b{len(self.bindings)}"
            self.bindings[name] = value
        return name

    def const(self, value: Any) -> str:
        t = type(value)
        if value is None or t is bool:
            return _LITERALS[value]
        if t not in (int, float, str):
            raise _Unsupported("constant type")
        if t is int and -INT_LIMIT <= value <= INT_LIMIT:
            literal = repr(value)  # digits only: safe as source, and a faster LOAD_CONST
            self.const_values[literal] = value
            return literal
        key = (t, value)
        name = self.const_names.get(key)
        if name is None:
            name = self.const_names[key] = f"k{len(self.const_names)}"
            self.bindings[name] = value
            self.const_values[name] = value
        return name

    def const_value(self, entry: str) -> Any:
        return _CONST_OF[entry] if entry in _CONST_OF else self.const_values[entry]

    def const_type(self, entry: str) -> type | None:
        if entry in ("None", "True", "False"):
            return type(_CONST_OF[entry])
        if entry in self.const_values:
            return type(self.const_values[entry])
        return None

    def context(self, lines: list[str], indent: str, conditional: bool = False) -> None:
        """Create the run's context lazily: runs that never need it skip the allocation."""
        self.uses_context = True
        if not self.context_ready:
            lines.append(f"{indent}if x is None: x = C(lim, R)")
            self.context_ready = not conditional

    def ops_expr(self) -> str:
        return f"o + {self.ops}" if self.track_ops else str(self.ops)

    def flush_ops(self, lines: list[str], indent: str) -> None:
        if self.track_ops and self.ops:
            lines.append(f"{indent}o += {self.ops}")
        self.ops = 0

    # -- blocks --

    def block(self, start: int, end: int, stack: list[str], lines: list[str], indent: str) -> bool:
        """Compile instructions [start, end); returns True when it ended in RETURN."""
        index = start
        while index < end:
            _, op, a, b = self.instrs[index]
            self.ops += 1
            depth = len(stack)
            if op in _JUMPS:
                index = self.jump(index, end, stack, lines, indent)
                continue
            if op == 38:  # RETURN
                if indent != "    " or not stack:
                    raise _Unsupported("RETURN in a branch")
                # What follows (locals' POPs) never runs: the root frame ends here.
                lines.append(f"{indent}return {stack[-1]}")
                return True
            self.simple(op, a, b, stack, lines, indent)
            self.max_depth = max(self.max_depth, len(stack), depth)
            index += 1
        return False

    def jump(self, index: int, end: int, stack: list[str], lines: list[str], indent: str) -> int:
        pos, op, offset, _ = self.instrs[index]
        if type(offset) is not int or offset < 0:
            raise _Unsupported("backward jump")
        target = pos + 2 + offset
        end_pos = self.instrs[end][0] if end < len(self.instrs) else self.end_pos
        if target > end_pos or (target != end_pos and target not in self.index_of):
            raise _Unsupported("jump target")
        target_index = self.index_of.get(target, end)
        inner = indent + "    "
        if len(inner) > 4 * MAX_NESTING:
            raise _Unsupported("nested too deeply")
        if op == 39:  # a JUMP not closing an if-arm
            raise _Unsupported("unstructured jump")
        if op == 47:  # JUMP_IF_STACK_NOT_NULL: `a ?? b`
            if not stack:
                raise _Unsupported("stack underflow")
            top = stack[-1]
            self.flush_ops(lines, indent)
            arm = list(stack)
            arm_lines: list[str] = []
            ready = self.context_ready
            if self.block(index + 1, target_index, arm, arm_lines, inner):
                raise _Unsupported("RETURN in a branch")
            self.context_ready = ready
            self.flush_ops(arm_lines, inner)
            joined, fix_arm, fix_other = self.join(arm, stack)
            lines.append(f"{indent}if {self.none_test(top)}:")
            lines.extend(arm_lines + [inner + line for line in fix_arm] or [inner + "pass"])
            if fix_other:
                lines.append(f"{indent}else:")
                lines.extend(inner + line for line in fix_other)
            stack[:] = joined
            return target_index
        # JUMP_IF_FALSE: `if` with an optional `else` (a forward JUMP closing the then-arm)
        if not stack:
            raise _Unsupported("stack underflow")
        condition = stack.pop()
        self.flush_ops(lines, indent)
        then_end, else_end = target_index, target_index
        if target_index - 1 > index and self.instrs[target_index - 1][1] == 39:
            jpos, _, joffset, _ = self.instrs[target_index - 1]
            if type(joffset) is not int or joffset < 0:
                raise _Unsupported("backward jump")
            after = jpos + 2 + joffset
            if after > end_pos or (after != end_pos and after not in self.index_of):
                raise _Unsupported("jump target")
            then_end, else_end = target_index - 1, self.index_of.get(after, end)
        then_stack, then_lines = list(stack), list[str]()
        ready = self.context_ready
        if self.block(index + 1, then_end, then_stack, then_lines, inner):
            raise _Unsupported("RETURN in a branch")
        self.context_ready = ready
        if then_end != target_index:
            self.ops += 1  # the JUMP over the else-arm
        self.flush_ops(then_lines, inner)
        else_stack, else_lines = list(stack), list[str]()
        if self.block(target_index, else_end, else_stack, else_lines, inner):
            raise _Unsupported("RETURN in a branch")
        self.context_ready = ready
        self.flush_ops(else_lines, inner)
        joined, fix_then, fix_else = self.join(then_stack, else_stack)
        lines.append(f"{indent}if {condition}:")
        lines.extend(then_lines + [inner + line for line in fix_then] or [inner + "pass"])
        body = else_lines + [inner + line for line in fix_else]
        if body:
            lines.append(f"{indent}else:")
            lines.extend(body)
        stack[:] = joined
        return else_end

    def join(self, left: list[str], right: list[str]) -> tuple[list[str], list[str], list[str]]:
        """Stacks of two arms made one: differing entries land in their own slot variable."""
        if len(left) != len(right):
            raise _Unsupported("arms leave different stack depths")
        joined, fix_left, fix_right = [], [], []
        for position, (one, other) in enumerate(zip(left, right, strict=True)):
            if one == other:
                joined.append(one)
                continue
            slot = f"s{position}"
            if one != slot:
                fix_left.append(f"{slot} = {one}")
            if other != slot:
                fix_right.append(f"{slot} = {other}")
            joined.append(slot)
        return joined, fix_left, fix_right

    # -- straight-line ops --

    def simple(self, op: int, a: Any, b: Any, stack: list[str], lines: list[str], indent: str) -> None:
        depth = len(stack)

        def need(count: int) -> None:
            if depth < count:
                raise _Unsupported("stack underflow")

        def put(position: int, expr: str) -> None:
            del stack[position:]
            lines.append(f"{indent}s{position} = {expr}")
            stack.append(f"s{position}")

        if op in (32, 33, 34):  # STRING, INTEGER, FLOAT
            stack.append(self.const(a))
        elif op in (29, 30, 31):  # TRUE, FALSE, NULL
            stack.append({29: "True", 30: "False", 31: "None"}[op])
        elif op == 35:  # POP
            need(1)
            stack.pop()
        elif op == 1:  # GET_GLOBAL
            if type(a) is not int or a < 1:
                raise _Unsupported("GET_GLOBAL count")
            need(a)
            chain = stack[depth - a :][::-1]
            head = chain[0]
            head_type = self.const_type(head)
            if head_type is not None and head_type is not str:
                raise _Unsupported("GET_GLOBAL of a non-string name")
            slot = f"s{depth - a}"
            # Walk in a temporary when the slot being written still holds a key of the chain.
            target = "t" if slot in chain[1:] else slot
            if head_type is None:
                lines.append(f"{indent}if type({head}) is not str: raise U")
            lines.append(f"{indent}{target} = g.get({head}, M)")
            lines.append(f"{indent}if {target} is M: raise U")
            for key in chain[1:]:
                lines.append(f"{indent}{target} = {self.property_expr(target, key)}")
            lines.append(f"{indent}if type({target}) not in SC:")
            self.context(lines, indent + "    ", conditional=True)
            lines.append(f"{indent}    {target} = x.global_value({target})")
            if target != slot:
                lines.append(f"{indent}{slot} = {target}")
            del stack[depth - a :]
            stack.append(slot)
        elif op == 45 or op == 48:  # GET_PROPERTY, GET_PROPERTY_NULLISH
            need(2)
            put(depth - 2, self.property_expr(stack[-2], stack[-1]))
        elif op in _COMPARE_SYMBOL:
            need(2)
            put(depth - 2, self.compare_expr(op, stack[-1], stack[-2]))
        elif op == 5:  # NOT
            need(1)
            put(depth - 1, f"not {stack[-1]}")
        elif op == 3 or op == 4:  # AND, OR: every operand already evaluated
            if type(a) is not int or a < 0:
                raise _Unsupported("AND/OR count")
            need(a)
            if a == 0:
                stack.append("True" if op == 3 else "False")
            else:
                joiner = " and " if op == 3 else " or "
                put(depth - a, f"bool({joiner.join(stack[depth - a :])})")
        elif op in (6, 7, 8):  # PLUS, MINUS, MULTIPLY
            need(2)
            self.context(lines, indent)
            put(depth - 2, f"x.arith({op}, {stack[-1]}, {stack[-2]})")
        elif op == 9 or op == 10:  # DIVIDE, MOD
            need(2)
            put(depth - 2, f"{'hdiv' if op == 9 else 'hmod'}({stack[-1]}, {stack[-2]})")
        elif 17 <= op <= 20:  # LIKE, ILIKE, NOT_LIKE, NOT_ILIKE
            need(2)
            negate = "not " if op in (19, 20) else ""
            put(depth - 2, f"{negate}like({stack[-1]}, {stack[-2]}, {op in (18, 20)})")
        elif op == 21 or op == 22:  # IN, NOT_IN
            need(2)
            put(depth - 2, self.in_expr(op, stack[-1], stack[-2]))
        elif 23 <= op <= 26:  # REGEX family: null or non-string on either side is false
            need(2)
            left, right = stack[-1], stack[-2]
            target = f"s{depth - 2}"
            negate = "not " if op in (24, 26) else ""
            lines.append(f"{indent}if type({left}) is str and type({right}) is str:")
            self.context(lines, indent + "    ", conditional=True)
            lines.append(f"{indent}    {target} = {negate}regex(x, {right}, {left}, {op in (25, 26)})")
            lines.append(f"{indent}else:")
            lines.append(f"{indent}    {target} = False")
            del stack[depth - 2 :]
            stack.append(target)
        elif op in (42, 43, 44):  # DICT, ARRAY, TUPLE
            if type(a) is not int or a < 0:
                raise _Unsupported("container size")
            size = 2 * a if op == 42 else a
            need(size)
            items = stack[depth - size :]
            self.static_alloc += 8 + 8 * size
            if op == 44 and all(self.const_type(item) is not None for item in items):
                # A tuple of constants is itself a constant (immutable): built once, not per run.
                folded = tuple(self.const_value(item) for item in items)
                name = self.bind(folded)
                self.const_values[name] = folded
                del stack[depth - size :]
                stack.append(name)
                return
            if op == 42:
                expr = "{" + ", ".join(f"{items[i]}: {items[i + 1]}" for i in range(0, size, 2)) + "}"
            elif op == 43:
                expr = "[" + ", ".join(items) + "]"
            else:
                expr = "(" + "".join(f"{item}, " for item in items) + ")"
            put(depth - size, expr)
        elif op == 36:  # GET_LOCAL (root frame: slot = index)
            if type(a) is not int or not 0 <= a < depth:
                raise _Unsupported("GET_LOCAL index")
            if _is_slot(stack[a]):
                put(depth, stack[a])
            else:
                stack.append(stack[a])
        elif op == 37:  # SET_LOCAL
            need(1)
            if type(a) is not int or not 0 <= a < depth - 1:
                raise _Unsupported("SET_LOCAL index")
            value = stack.pop()
            if value != f"s{a}":
                lines.append(f"{indent}s{a} = {value}")
            stack[a] = f"s{a}"
        elif op == 2:  # CALL_GLOBAL (a native STL function)
            self.call(a, b, stack, lines, indent)
        else:
            raise _Unsupported(f"opcode {op}")

    def call(self, name: Any, argc: Any, stack: list[str], lines: list[str], indent: str) -> None:
        entry = STL.get(name) if type(name) is str else None
        if entry is None or name in _UNSUPPORTED_NATIVES or type(argc) is not int or argc < 0:
            raise _Unsupported(f"call {name!r}")
        if argc < entry.min_args or (entry.max_args is not None and argc > entry.max_args):
            raise _Unsupported("arity")
        depth = len(stack)
        if depth < argc:
            raise _Unsupported("stack underflow")
        args = ", ".join(stack[depth - argc :])
        self.context(lines, indent)
        lines.append(f"{indent}s{depth - argc} = x.call({self.bind(entry)}, [{args}], {self.ops_expr()})")
        del stack[depth - argc :]
        stack.append(f"s{depth - argc}")

    def none_test(self, entry: str, negate: bool = False) -> str:
        if self.const_type(entry) is not None:  # decided now (and no `is` on a literal)
            return str((self.const_value(entry) is None) != negate)
        return f"{entry} is not None" if negate else f"{entry} is None"

    def in_expr(self, op: int, needle: str, haystack: str) -> str:
        negate = "" if op == 21 else "not "
        slow = f"{negate}hin({needle}, {haystack})"
        items = self.const_values.get(haystack)
        if type(items) is tuple and items:
            # hog_equals of two strs (or two ints) is plain ==, so `in` is exact for that type.
            kinds = {type(item) for item in items}
            if len(kinds) == 1 and (kind := kinds.pop()) in (str, int):
                return f"({needle} {negate}in {haystack}) if type({needle}) is {kind.__name__} else {slow}"
        return slow

    def property_expr(self, obj: str, key: str) -> str:
        key_type = self.const_type(key)
        if key_type is str:
            return f"{obj}.get({key}) if type({obj}) is dict else gp({obj}, {key})"
        if key_type is not None:
            return f"gp({obj}, {key})"
        return f"{obj}.get({key}) if type({obj}) is dict and type({key}) is str else gp({obj}, {key})"

    def compare_expr(self, op: int, left: str, right: str) -> str:
        """The VM's inlined comparison: same-type int/str/float natively, else the helpers."""
        symbol = _COMPARE_SYMBOL[op]
        if op == 11 or op == 12:
            slow = f"heq({left}, {right})" if op == 11 else f"not heq({left}, {right})"
        else:
            slow = f"hcmp({symbol!r}, {left}, {right})"
        known = self.const_type(right) or self.const_type(left)
        if (op == 11 or op == 12) and (right == "None" or left == "None"):
            other = left if right == "None" else right
            return self.none_test(other, negate=op == 12)
        if known in (int, str, float):
            other = left if self.const_type(right) is known else right
            return f"({left} {symbol} {right}) if type({other}) is {known.__name__} else {slow}"
        if known is not None:
            return slow
        return f"({left} {symbol} {right}) if type({left}) is type({right}) and type({left}) in FT else {slow}"

    # -- assembly --

    def build(self) -> FastProgram:
        body: list[str] = []
        stack: list[str] = []
        returned = self.block(0, len(self.instrs), stack, body, "    ")
        if not returned:
            body.append(f"    return {stack[-1] if stack else 'None'}")
        prologue = []
        if self.uses_context:
            prologue.append("    x = None")
        if self.track_ops:
            prologue.append("    o = 0")
        names = ", ".join(self.bindings)
        source = f"def make({names}):\n    def run(g, lim):\n"
        source += "".join(f"    {line}\n" for line in prologue + body)
        source += "    return run\n"
        reserve = self.static_alloc + 8 * self.max_depth
        namespace: dict[str, Any] = dict(_RUNTIME)
        namespace["R"] = reserve
        exec(compile(source, "<hog fast path>", "exec"), namespace)  # the source holds names, never bytecode text
        fn = namespace["make"](*self.bindings.values())
        return FastProgram(fn, len(self.instrs), reserve, source)


_CONST_OF = {"None": None, "True": True, "False": False}
_RUNTIME: dict[str, Any] = {
    "__builtins__": {"bool": bool, "type": type, "str": str, "dict": dict, "int": int, "float": float},
    "C": _Context,
    "M": _MISSING,
    "U": FastPathUnavailable,
    "SC": _SCALARS,
    "FT": frozenset({int, str, float}),
    "gp": get_property,
    "heq": hog_equals,
    "hcmp": hog_compare,
    "hin": hog_in,
    "like": like,
    "regex": regex_search,
    "hdiv": hog_div,
    "hmod": hog_mod,
}


def compile_fast(bytecode: Any) -> FastProgram | None:
    """Translate bytecode (uncached); None when it is outside the supported subset."""
    if type(bytecode) is not list or len(bytecode) < 2 or bytecode[0] != "_H":
        return None
    if type(bytecode[1]) is not int or bytecode[1] < 1:
        return None  # version 0 pushes call arguments in reverse
    if len(bytecode) > MAX_BYTECODE_LENGTH:
        return None
    try:
        return _Generator(bytecode).build()
    except (_Unsupported, RecursionError, SyntaxError, MemoryError):
        return None


_by_id: dict[int, tuple[Any, FastProgram | None]] = {}
_by_content: dict[tuple[Any, ...], FastProgram | None] = {}


def fast_program(bytecode: Any) -> FastProgram | None:
    """The cached translation of ``bytecode`` (identity first, then typed content)."""
    entry = _by_id.get(id(bytecode))
    if entry is not None and entry[0] is bytecode:
        return entry[1]
    key: tuple[Any, ...] | None
    try:
        key = tuple((type(item), item) for item in bytecode) if type(bytecode) is list else None
        if key is not None:
            hash(key)
    except TypeError:
        key = None
    if key is not None and key in _by_content:
        program = _by_content[key]
    else:
        program = compile_fast(bytecode)
        if key is not None:
            if len(_by_content) >= _CACHE_SIZE:
                _by_content.clear()
            _by_content[key] = program
    if len(_by_id) >= _CACHE_SIZE:
        _by_id.clear()
    _by_id[id(bytecode)] = (bytecode, program)  # holds the list, so its id is not reused
    return program
