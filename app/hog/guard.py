"""A cheap scan of Hog source before `hogql-parser` (C++/ANTLR) sees it.

The parser's time grows quadratically or worse with nesting and with chains, and deep enough input
overflows its C++ stack and kills the process (measured on 1.3.88: `x -> ` x 10,000, `f'{` x 6,400,
`true ? 1 :` x 4,900, `event[1]` x 9,500, `1+1+…` x 15,000 terms). Parse time, measured on one core:
`{event.a.a…}` 32 segments 28 ms, 48 segments 63 ms, 700 segments 14 s; `not` x 48 0.5 s on a cold
parser; 256 `+` terms 60 ms, 512 terms 0.3-0.5 s. So one linear pass measures, per source:

1. `depth`: open brackets `( [ {`, f-strings and their `{…}` placeholders, plus the prefix operators
   that nest what follows them (`not`, lambda `->`, ternary `?`) in the expression still open;
2. `operators`: binary operators in one expression (between `,` / `;` separators of one bracket level);
3. `chain`: member and index steps in a row (`a.b[1].c()`);
4. `size`: code points.

Strings, quoted identifiers, comments and template text are skipped (template text and f-strings are
scanned inside their placeholders only). The scan over-approximates what the grammar builds: it may
count a `?` or `-` that is not an operator, never the reverse. Sources past a hard limit are refused
(`HogSyntaxError`); `Scan.is_small` says whether a source may be parsed in-process (see `parser.py`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

__all__ = ["HARD", "SMALL", "Bounds", "Scan", "scan"]


@dataclass(frozen=True)
class Bounds:
    size: int
    depth: int
    operators: int
    chain: int
    # Brackets, placeholders, operators and accesses in the whole source: parse time is about 0.3-0.7 ms
    # per token with member chains or calls, so this bounds the time of a flat but long source.
    tokens: int


# Refused above these. Each bound keeps the parser well under a second and far from a crash.
HARD = Bounds(size=256 * 1024, depth=32, operators=128, chain=32, tokens=3000)
# Parsed in-process at or below these (a few milliseconds at most); in a parse process otherwise.
# `bench/hog_parse.py`: a pool round trip costs ~1-20 ms; 64 KB of text parses in ~2 ms, but twenty
# `{event.properties.x}` placeholders already take ~30 ms of the parser (holding the GIL).
SMALL = Bounds(size=64 * 1024, depth=12, operators=32, chain=12, tokens=48)


@dataclass
class Scan:
    size: int = 0
    depth: int = 0
    operators: int = 0
    chain: int = 0
    tokens: int = 0
    # Where a hard bound was first passed (code point offset) and which, or None.
    violation: str | None = None
    offset: int = 0

    def within(self, bounds: Bounds) -> bool:
        return (
            self.size <= bounds.size
            and self.depth <= bounds.depth
            and self.operators <= bounds.operators
            and self.chain <= bounds.chain
            and self.tokens <= bounds.tokens
        )

    @property
    def is_small(self) -> bool:
        return self.within(SMALL)


_MESSAGES = {
    "size": "Hog source too long: more than {size} characters",
    "depth": "Expression nested too deeply: more than {depth} levels",
    "operators": "Expression too long: more than {operators} operators in a row",
    "chain": "Expression too long: more than {chain} property or index accesses in a row",
    "tokens": "Hog source too complex: more than {tokens} operators, brackets and property accesses",
}


def violation_message(kind: str) -> str:
    return _MESSAGES[kind].format(**HARD.__dict__)


_WORD_PREFIX = frozenset({"not"})
_WORD_BINARY = frozenset({"and", "or", "like", "ilike", "in", "is", "cohort", "regex"})
# A statement starts a new expression (programs need no `;` between statements).
_STATEMENT_KEYWORDS = frozenset({"let", "return", "if", "else", "while", "for", "fun", "fn", "try", "catch", "throw"})
_OPENERS = {")": ("(",), "]": ("[",), "}": ("{", "placeholder")}
_OPERATOR_CHARS = frozenset("+-*/%=<>!~|&^")
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
_IDENT_CHARS = _IDENT_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")


class _Level:
    """One open bracket, f-string or placeholder; counters are for its current expression."""

    __slots__ = ("chain", "kind", "operators", "prefix")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "(" "[" "{" "text" (f-string body) "template" "placeholder"
        self.prefix = 0
        self.operators = 0
        self.chain = 0

    def reset(self) -> None:
        self.prefix = self.operators = self.chain = 0


class _Scanner:
    def __init__(self, source: str, template: bool) -> None:
        self.src = source
        self.levels: list[_Level] = [_Level("template" if template else "(")]
        self.prefix_total = 0  # sum of `prefix` over open levels
        self.result = Scan(size=len(source))
        # The last significant token ended an operand (identifier, number, closing bracket, string).
        self.after_operand = False

    # -- bookkeeping -----------------------------------------------------------------------------

    def fail(self, kind: str, offset: int) -> None:
        if self.result.violation is None:
            self.result.violation, self.result.offset = kind, offset
            raise _Stop

    def note_depth(self, offset: int) -> None:
        depth = len(self.levels) - 1 + self.prefix_total
        if depth > self.result.depth:
            self.result.depth = depth
            if depth > HARD.depth:
                self.fail("depth", offset)

    def count(self, offset: int) -> None:
        self.result.tokens += 1
        if self.result.tokens > HARD.tokens:
            self.fail("tokens", offset)

    def push(self, kind: str, offset: int) -> None:
        self.count(offset)
        self.levels.append(_Level(kind))
        self.after_operand = False
        self.note_depth(offset)

    def pop(self) -> None:
        level = self.levels.pop()
        self.prefix_total -= level.prefix
        self.after_operand = True

    def prefix(self, offset: int) -> None:
        self.count(offset)
        level = self.levels[-1]
        level.prefix += 1
        level.chain = 0
        self.prefix_total += 1
        self.after_operand = False
        self.note_depth(offset)

    def operator(self, offset: int) -> None:
        self.count(offset)
        level = self.levels[-1]
        level.operators += 1
        level.chain = 0
        self.after_operand = False
        if level.operators > self.result.operators:
            self.result.operators = level.operators
            if level.operators > HARD.operators:
                self.fail("operators", offset)

    def chain_step(self, offset: int) -> None:
        self.count(offset)
        level = self.levels[-1]
        level.chain += 1
        if level.chain > self.result.chain:
            self.result.chain = level.chain
            if level.chain > HARD.chain:
                self.fail("chain", offset)

    def separator(self) -> None:
        level = self.levels[-1]
        self.prefix_total -= level.prefix
        level.reset()
        self.after_operand = False

    # -- the pass --------------------------------------------------------------------------------

    def run(self) -> Scan:
        if len(self.src) > HARD.size:
            self.result.violation, self.result.offset = "size", HARD.size
            return self.result
        with contextlib.suppress(_Stop):
            self._loop()
        return self.result

    def _loop(self) -> None:
        src, n, i = self.src, len(self.src), 0
        while i < n:
            kind = self.levels[-1].kind
            if kind in ("text", "template"):
                i = self._text(i, kind)
                continue
            c = src[i]
            if c in " \t\r\n":
                i += 1
            elif c in "'\"`":
                self.operand()
                i = _skip_quoted(src, i)
            elif c in "fF" and src.startswith("'", i + 1) and not (i and src[i - 1] in _IDENT_CHARS):
                self.push("text", i)
                i += 2
            elif src.startswith("//", i) or src.startswith("--", i):
                end = src.find("\n", i)
                i = n if end < 0 else end + 1
            elif src.startswith("/*", i):
                end = src.find("*/", i + 2)
                i = n if end < 0 else end + 2
            elif c in "([{":
                if c != "{" and self.after_operand:
                    self.chain_step(i)  # a call or an index on what came before
                self.push(c, i)
                i += 1
            elif c in ")]}":
                # A closer that does not match is left for the parser to reject: never pop too much.
                if len(self.levels) > 1 and self.levels[-1].kind in _OPENERS[c]:
                    self.pop()
                i += 1
            elif c in ",;":
                self.separator()
                i += 1
            elif c == "?":
                nxt = src[i + 1 : i + 2]
                if nxt == ".":
                    self.chain_step(i)
                    self.after_operand = False
                    i += 2
                elif nxt == "?":
                    self.operator(i)
                    i += 2
                else:
                    self.prefix(i)  # ternary: what follows nests
                    i += 1
            elif c == "-" and src.startswith("->", i):
                self.prefix(i)  # lambda body
                i += 2
            elif c in _OPERATOR_CHARS:
                j = i + 1
                while j < n and src[j] in _OPERATOR_CHARS and not src.startswith("--", j) and src[j : j + 2] != "->":
                    j += 1
                self.operator(i)
                i = j
            elif c == ".":
                if i + 1 < n and src[i + 1] in _DIGITS and not self.after_operand:
                    i = self._number(i)
                else:
                    self.chain_step(i)
                    self.after_operand = False
                    i += 1
            elif c in _DIGITS:
                i = self._number(i)
            elif c in _IDENT_START:
                j = i + 1
                while j < n and src[j] in _IDENT_CHARS:
                    j += 1
                word = src[i:j].lower()
                if word in _WORD_PREFIX:
                    self.prefix(i)
                elif word in _STATEMENT_KEYWORDS:
                    self.separator()
                elif word in _WORD_BINARY:
                    self.operator(i)
                else:
                    self.operand()
                i = j
            else:
                self.after_operand = False
                i += 1

    def operand(self) -> None:
        """Two operands in a row, with no operator between them, are two statements."""
        if self.after_operand:
            self.separator()
        self.after_operand = True

    def _number(self, i: int) -> int:
        self.operand()
        src, n = self.src, len(self.src)
        j = i + 1
        while j < n and (src[j] in _IDENT_CHARS or src[j] == "." or (src[j] in "+-" and src[j - 1] in "eE")):
            j += 1
        self.after_operand = True
        return j

    def _text(self, i: int, kind: str) -> int:
        """Inside template text or an f-string body: skip to the next placeholder or the closing quote."""
        src, n = self.src, len(self.src)
        while i < n:
            c = src[i]
            if c == "\\":
                i += 2
            elif c == "'" and kind == "text":
                if src.startswith("''", i):
                    i += 2
                    continue
                self.pop()
                return i + 1
            elif c == "{":
                self.push("placeholder", i)
                return i + 1
            else:
                i += 1
        return n


class _Stop(Exception):
    pass


def _skip_quoted(source: str, index: int) -> int:
    """Index after the string or identifier quoted by `source[index]` (backslash or doubled escapes)."""
    quote = source[index]
    index += 1
    while index < len(source):
        char = source[index]
        if char == "\\":
            index += 2
        elif char == quote:
            if source.startswith(quote * 2, index):
                index += 2
            else:
                return index + 1
        else:
            index += 1
    return index


def scan(source: str, *, template: bool = False) -> Scan:
    """Measure `source`; `violation` is set when a hard bound is passed (the scan stops there)."""
    return _Scanner(source, template).run()
