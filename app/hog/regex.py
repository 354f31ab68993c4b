"""Regex matching for ``=~``, ``match()`` and ``extractRegex()`` (unanchored search).

Python's ``re`` backtracks, so ``(a+)+$`` against ``'a' * 30 + 'b'`` would hang the process with
the GIL held -- no timeout could interrupt it. PostHog's production VM uses RE2 (linear time).
We get the same guarantee this way:

* The pattern is parsed with ``re``'s own parser and its worst-case backtracking cost estimated:
  a quantifier or alternation nested under a quantifier is exponential; otherwise ``q`` sequential
  quantifiers cost about ``len(text) ** (q + 1)`` steps.
* If that bound is below ``Limits.regex_backtrack_budget`` the fast ``re`` engine runs.
* Otherwise a Pike VM (Thompson NFA simulation with captures, leftmost-first like RE2 and
  ``re``) runs in O(len(text) * len(pattern)) and checks the time budget as it goes.
* Constructs RE2 rejects too (backreferences, lookaround, conditionals) only run on ``re`` when
  their bound is small; otherwise the call fails with a clear error instead of risking a hang.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.hog.errors import HogVMError

_sre: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

MAX_PROGRAM = 20_000
_DEFAULT_BUDGET = 2_000_000
_TICK = 2048


@lru_cache(maxsize=512)
def _compile(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if case_insensitive else 0)
    except re.error as exc:
        raise HogVMError(f"Invalid regular expression {pattern!r}: {exc}") from None


# --- worst-case analysis --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Analysis:
    quantifiers: int  # repeats that can match more than once
    nested: bool  # a repeat or alternation inside a repeat: exponential backtracking
    unsupported: bool  # backreferences, lookaround...: no linear-time engine for these


_UNSUPPORTED_OPS = {"GROUPREF", "GROUPREF_EXISTS", "GROUPREF_IGNORE", "ASSERT", "ASSERT_NOT", "ATOMIC_GROUP"}
_REPEAT_OPS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _analyse(items: Any, in_repeat: bool = False) -> _Analysis:
    quantifiers, nested, unsupported = 0, False, False
    for op, av in items:
        name = str(op)
        if name in _UNSUPPORTED_OPS:
            unsupported = True
        if name in _REPEAT_OPS:
            _low, high, body = av
            if high != 1:
                quantifiers += 1
                nested = nested or in_repeat
            inner = _analyse(body, in_repeat or high != 1)
        elif name == "BRANCH":
            nested = nested or in_repeat
            inner = _merge([_analyse(branch, in_repeat) for branch in av[1]])
        elif name == "SUBPATTERN":
            inner = _analyse(av[-1], in_repeat)
            unsupported = unsupported or bool(av[1] or av[2])  # scoped inline flags
        else:
            continue
        quantifiers += inner.quantifiers
        nested = nested or inner.nested
        unsupported = unsupported or inner.unsupported
    return _Analysis(quantifiers, nested, unsupported)


def _merge(parts: list[_Analysis]) -> _Analysis:
    return _Analysis(sum(p.quantifiers for p in parts), any(p.nested for p in parts), any(p.unsupported for p in parts))


@lru_cache(maxsize=512)
def _parse(pattern: str, case_insensitive: bool) -> tuple[Any, _Analysis]:
    _compile(pattern, case_insensitive)  # validates and reports syntax errors uniformly
    parsed = _sre.parse(pattern, re.IGNORECASE if case_insensitive else 0)
    return parsed, _analyse(parsed.data)


def _backtracking_is_safe(analysis: _Analysis, length: int, budget: int) -> bool:
    if analysis.nested:
        return length <= 12  # exponential in the input: only trivially short inputs
    return (length + 1) ** (analysis.quantifiers + 1) <= budget


# --- Pike VM --------------------------------------------------------------------------------------

# Instructions: ("char", predicate) | ("split", x, y) | ("jmp", x) | ("save", slot)
#               | ("assert", kind) | ("match",)
_Inst = tuple[Any, ...]


class _Compiler:
    def __init__(self, flags: int) -> None:
        self.prog: list[_Inst] = []
        self.ignore_case = bool(flags & re.IGNORECASE)
        self.multiline = bool(flags & re.MULTILINE)
        self.dotall = bool(flags & re.DOTALL)

    def emit(self, inst: _Inst) -> int:
        if len(self.prog) >= MAX_PROGRAM:
            raise HogVMError("Regular expression too large")
        self.prog.append(inst)
        return len(self.prog) - 1

    def char(self, predicate: Callable[[str], bool]) -> None:
        if self.ignore_case:
            base = predicate

            def predicate(ch: str) -> bool:
                return base(ch) or base(ch.lower()) or base(ch.upper())

        self.emit(("char", predicate))

    def sequence(self, items: Any) -> None:
        for op, av in items:
            self.node(str(op), av)

    def node(self, name: str, av: Any) -> None:
        if name == "LITERAL":
            self.char(_is_code(av))
        elif name == "NOT_LITERAL":
            self.char(_is_not_code(av))
        elif name == "ANY":
            self.char((lambda ch: True) if self.dotall else (lambda ch: ch != "\n"))
        elif name == "IN":
            self.char(_class_predicate(av))
        elif name == "AT":
            self.emit(("assert", str(av)))
        elif name == "SUBPATTERN":
            group, body = av[0], av[-1]
            if group is not None:
                self.emit(("save", 2 * group))
            self.sequence(body)
            if group is not None:
                self.emit(("save", 2 * group + 1))
        elif name == "BRANCH":
            self.branch(av[1])
        elif name in _REPEAT_OPS:
            self.repeat(av[0], av[1], av[2], greedy=name != "MIN_REPEAT")
        else:
            raise HogVMError(f"Unsupported regular expression feature: {name}")

    def branch(self, branches: list[Any]) -> None:
        jumps = []
        for index, branch in enumerate(branches):
            if index < len(branches) - 1:
                split = self.emit(("split", 0, 0))
                self.sequence(branch)
                jumps.append(self.emit(("jmp", 0)))
                self.prog[split] = ("split", split + 1, len(self.prog))
            else:
                self.sequence(branch)
        for jump in jumps:
            self.prog[jump] = ("jmp", len(self.prog))

    def _optional(self, body: Any, greedy: bool) -> int:
        split = self.emit(("split", 0, 0))
        self.sequence(body)
        after = len(self.prog)
        self.prog[split] = ("split", split + 1, after) if greedy else ("split", after, split + 1)
        return split

    def repeat(self, low: int, high: int, body: Any, greedy: bool) -> None:
        for _ in range(low):
            self.sequence(body)
        if high == _c.MAXREPEAT:
            loop = self.emit(("split", 0, 0))
            self.sequence(body)
            self.emit(("jmp", loop))
            after = len(self.prog)
            self.prog[loop] = ("split", loop + 1, after) if greedy else ("split", after, loop + 1)
            return
        for _ in range(high - low):
            self._optional(body, greedy)


def _is_code(code: int) -> Callable[[str], bool]:
    return lambda ch: ord(ch) == code


def _is_not_code(code: int) -> Callable[[str], bool]:
    return lambda ch: ord(ch) != code


def _in_range(low: int, high: int) -> Callable[[str], bool]:
    return lambda ch: low <= ord(ch) <= high


_CATEGORIES: dict[str, Callable[[str], bool]] = {
    "CATEGORY_DIGIT": str.isdecimal,
    "CATEGORY_NOT_DIGIT": lambda ch: not ch.isdecimal(),
    "CATEGORY_SPACE": str.isspace,
    "CATEGORY_NOT_SPACE": lambda ch: not ch.isspace(),
    "CATEGORY_WORD": lambda ch: ch.isalnum() or ch == "_",
    "CATEGORY_NOT_WORD": lambda ch: not (ch.isalnum() or ch == "_"),
}


def _class_predicate(items: Any) -> Callable[[str], bool]:
    negate = False
    tests: list[Callable[[str], bool]] = []
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            tests.append(_is_code(av))
        elif name == "RANGE":
            tests.append(_in_range(av[0], av[1]))
        elif name == "CATEGORY" and str(av) in _CATEGORIES:
            tests.append(_CATEGORIES[str(av)])
        else:
            raise HogVMError(f"Unsupported regular expression feature: {name}")

    def predicate(ch: str) -> bool:
        found = any(test(ch) for test in tests)
        return not found if negate else found

    return predicate


def _is_word(text: str, index: int) -> bool:
    return 0 <= index < len(text) and (text[index].isalnum() or text[index] == "_")


def _assertion_holds(kind: str, text: str, index: int, multiline: bool) -> bool:
    size = len(text)
    if kind in ("AT_BEGINNING", "AT_BEGINNING_LINE"):
        return index == 0 or (multiline and text[index - 1] == "\n")
    if kind == "AT_BEGINNING_STRING":
        return index == 0
    if kind in ("AT_END", "AT_END_LINE"):
        if multiline:
            return index == size or text[index] == "\n"
        return index == size or (index == size - 1 and text[index] == "\n")
    if kind == "AT_END_STRING":
        return index == size
    boundary = _is_word(text, index - 1) != _is_word(text, index)
    return boundary if kind == "AT_BOUNDARY" else not boundary


@lru_cache(maxsize=256)
def _program(pattern: str, case_insensitive: bool) -> tuple[list[_Inst], int, bool]:
    parsed, _ = _parse(pattern, case_insensitive)
    compiler = _Compiler(parsed.state.flags)
    compiler.sequence(parsed.data)
    compiler.emit(("match",))
    return compiler.prog, parsed.state.groups, compiler.multiline


def _pike_search(
    pattern: str, text: str, case_insensitive: bool, tick: Callable[[], None] | None
) -> tuple[int | None, ...] | None:
    """Leftmost-first match; returns capture slots (start/end per group) or None."""
    prog, groups, multiline = _program(pattern, case_insensitive)
    # Slots 0/1 hold the whole match; ``groups`` counts group 0 too (re's parser convention).
    unset: tuple[int | None, ...] = (None,) * (2 * groups - 1)

    def add(threads: list[tuple[int, tuple[int | None, ...]]], seen: set[int], pc: int, caps: Any, at: int) -> None:
        work = [(pc, caps)]
        while work:
            pc, caps = work.pop()
            if pc in seen:
                continue
            seen.add(pc)
            inst = prog[pc]
            kind = inst[0]
            if kind == "jmp":
                work.append((inst[1], caps))
            elif kind == "split":
                work.append((inst[2], caps))  # lower priority, explored after inst[1]
                work.append((inst[1], caps))
            elif kind == "save":
                slot = inst[1]
                work.append((pc + 1, (*caps[:slot], at, *caps[slot + 1 :])))
            elif kind == "assert":
                if _assertion_holds(inst[1], text, at, multiline):
                    work.append((pc + 1, caps))
            else:
                threads.append((pc, caps))

    current: list[tuple[int, tuple[int | None, ...]]] = []
    matched: tuple[int | None, ...] | None = None
    for index in range(len(text) + 1):
        if tick is not None and index % _TICK == _TICK - 1:
            tick()
        seen: set[int] = {pc for pc, _ in current}
        if matched is None:
            add(current, seen, 0, (index, *unset), index)
        if not current:
            if matched is not None:
                break
            continue
        following: list[tuple[int, tuple[int | None, ...]]] = []
        next_seen: set[int] = set()
        for pc, caps in current:
            inst = prog[pc]
            if inst[0] == "match":
                matched = (caps[0], index, *caps[2:])
                break  # lower-priority threads lose to this match
            if index < len(text) and inst[1](text[index]):
                add(following, next_seen, pc + 1, caps, index + 1)
        current = following
    return matched


# --- public ---------------------------------------------------------------------------------------


def _budget(ctx: Any) -> int:
    limits = getattr(ctx, "limits", None)
    return int(getattr(limits, "regex_backtrack_budget", _DEFAULT_BUDGET))


def _tick(ctx: Any) -> Callable[[], None] | None:
    return getattr(ctx, "check_deadline", None)


def _choose_pike(ctx: Any, pattern: str, text: str, case_insensitive: bool) -> bool:
    _, analysis = _parse(pattern, case_insensitive)
    if _backtracking_is_safe(analysis, len(text), _budget(ctx)):
        return False
    if analysis.unsupported:
        raise HogVMError(
            f"Regular expression {pattern!r} is too complex for an input of {len(text)} characters "
            "(backreferences and lookaround can backtrack catastrophically)"
        )
    return True


def regex_search(ctx: Any, pattern: str, text: str, case_insensitive: bool) -> bool:
    if _choose_pike(ctx, pattern, text, case_insensitive):
        return _pike_search(pattern, text, case_insensitive, _tick(ctx)) is not None
    return _compile(pattern, case_insensitive).search(text) is not None


def regex_extract(ctx: Any, pattern: str, text: str) -> str:
    """First capture group of the first match (whole match without groups); '' if none."""
    if _choose_pike(ctx, pattern, text, False):
        slots = _pike_search(pattern, text, False, _tick(ctx))
        if slots is None:
            return ""
        _, groups, _ = _program(pattern, False)
        begin, end = (slots[2], slots[3]) if groups > 1 else (slots[0], slots[1])
        return text[begin:end] if begin is not None and end is not None else ""
    found = _compile(pattern, False).search(text)
    if found is None:
        return ""
    return (found.group(1) or "") if found.re.groups else found.group(0)
