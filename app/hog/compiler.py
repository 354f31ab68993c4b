"""Hog compiler: the `hogql_parser` JSON AST -> PostHog-compatible bytecode `["_H", 1, ...]`.

Public entry points:

* `compile_program(src)` - a Hog program (function code). Its locals are popped at the end, so the
  result is `null` unless a top-level `return` runs.
* `compile_expression(src)` - one expression (filters, conditions); leaves exactly one value.
* `compile_ast(node, mode="expr" | "program")` - compile a JSON AST you built yourself. Nodes use the
  parser's own format (spec/hog.md §9.1), e.g.
  `{"node": "CompareOperation", "op": "==", "left": {"node": "Field", "chain": ["event"]},
  "right": {"node": "Constant", "value": "$pageview"}}`. Positions (`start`/`end`) are optional.
  In "program" mode the node is a `Program` (`{"node": "Program", "declarations": [...]}`); any other
  statement or expression is wrapped into one.

`functions` (all entry points) names extra host functions that may be called by name, on top of the
STL and `DEFAULT_HOST_FUNCTIONS`. Calling anything else that is not a local is a `HogCompileError`.

The mapping follows PostHog's `posthog/hogql/compiler/bytecode.py` as described in spec/hog.md §6.
Every `_expr` leaves exactly one value on the stack; every `_stmt` leaves the stack as it was, except
`let` and `fun`, whose value becomes the new local's slot.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from app.hog.compiler_base import Code, Node
from app.hog.compiler_expressions import ExpressionsMixin
from app.hog.compiler_functions import DEFAULT_HOST_FUNCTIONS, KNOWN_FUNCTIONS
from app.hog.compiler_scope import FunctionScope
from app.hog.compiler_statements import StatementsMixin
from app.hog.opcodes import BYTECODE_MARKER, BYTECODE_VERSION, Op
from app.hog.parser import HogCompileError, parse_expr, parse_program

__all__ = ["HogCompileError", "compile_ast", "compile_expression", "compile_program"]


class _Compiler(StatementsMixin, ExpressionsMixin):
    """The whole compiler: statements and expressions over the shared base."""


def compile_program(src: str, *, functions: Iterable[str] = ()) -> list[Any]:
    """Compile Hog program source to bytecode. Raises `HogSyntaxError`/`HogCompileError`."""
    return list(_compile_source(src, "program", frozenset(functions)))


def compile_expression(src: str, *, functions: Iterable[str] = ()) -> list[Any]:
    """Compile a single Hog expression to bytecode that leaves its value on the stack."""
    return list(_compile_source(src, "expr", frozenset(functions)))


@lru_cache(maxsize=512)
def _compile_source(src: str, mode: str, functions: frozenset[str]) -> tuple[Any, ...]:
    # Parsing is the slow part (milliseconds per statement), and the same sources (function
    # templates, common filters) come back often. Bytecode items are immutable scalars, so callers
    # get a fresh list over the cached tuple.
    node = parse_program(src) if mode == "program" else parse_expr(src)
    return tuple(_compile(node, mode, functions, src, 0))


def compile_ast(
    node: Node,
    *,
    mode: str = "expr",
    functions: Iterable[str] = (),
    source: str | None = None,
    source_shift: int = 0,
) -> list[Any]:
    """Compile a JSON AST node (the parser's format) to bytecode; `mode` is "expr" or "program".

    `source` (optional) is the text the node's `start.offset` positions refer to, minus
    `source_shift` code points; it only serves to give errors a line and column.
    """
    return _compile(node, mode, functions, source, source_shift)


def _compile(node: Node, mode: str, functions: Iterable[str], source: str | None, shift: int) -> list[Any]:
    if mode not in ("expr", "program"):
        raise ValueError(f"mode must be 'expr' or 'program', not {mode!r}")
    if not isinstance(node, dict):
        raise HogCompileError(f"Expected an AST node (dict), got {type(node).__name__}")
    compiler = _Compiler(
        FunctionScope(),
        functions=KNOWN_FUNCTIONS | DEFAULT_HOST_FUNCTIONS | frozenset(functions),
        source=source,
        shift=shift,
    )
    if mode == "program":
        if node.get("node") != "Program":
            node = {"node": "Program", "declarations": [node]}
        code = compiler.program(node)
    else:
        code = compiler.expr(node)
    return [BYTECODE_MARKER, BYTECODE_VERSION, *_plain(code)]


def _plain(code: Code) -> Code:
    """Replace `Op` members by plain ints (the output must be JSON-clean and compare as data)."""
    return [int(item) if isinstance(item, Op) else item for item in code]
