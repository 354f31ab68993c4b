"""Adapter around PostHog's `hogql_parser` (PyPI `hogql-parser`, C++/ANTLR).

The extension module runs `import posthog.hogql.errors` while it loads. We only use its `*_json`
functions, which report errors as JSON instead of raising PostHog's exception classes, so empty
stand-in modules are enough. They are placed in `sys.modules` only for names that are missing (the
official `posthog` SDK may already own `posthog`) and removed again right after the import, so nothing
else in the process ever sees them.

All three entry points return the parser's JSON AST as plain dicts (`{"node": "Program", ...}`, with
`start`/`end` positions) and raise `HogSyntaxError` with a 1-based line and column.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import types
from typing import Any

from app.hog import budget, parse_pool
from app.hog.guard import scan, violation_message

__all__ = [
    "HogCompileError",
    "HogSourceLimitError",
    "HogSyntaxError",
    "parse_expr",
    "parse_program",
    "parse_template",
    "position_of",
]

_STAND_IN_MODULES = (
    "posthog",
    "posthog.hogql",
    "posthog.hogql.ast",
    "posthog.hogql.errors",
    "posthog.hogql.base",
)

# Prefix PostHog puts in front of a template before parsing it with the `fullTemplateString` rule.
_TEMPLATE_PREFIX = "F'"

_lock = threading.Lock()
_module: Any = None


class HogCompileError(Exception):
    """Hog source that can not be compiled. `line`/`column` are 1-based, `None` when unknown."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(self._format())

    def _format(self) -> str:
        if self.line is None:
            return self.message
        if self.column is None:
            return f"{self.message} (line {self.line})"
        return f"{self.message} (line {self.line}, column {self.column})"


class HogSyntaxError(HogCompileError):
    """The parser rejected the source."""


class HogSourceLimitError(HogSyntaxError):
    """The source is past a safety bound of `guard.scan` (size, nesting, chains): never parsed."""


def load_parser() -> Any:
    """Import `hogql_parser` once, with temporary stand-ins for the `posthog.*` modules it imports."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is not None:
            return _module
        if "hogql_parser" in sys.modules:
            _module = sys.modules["hogql_parser"]
            return _module
        added: list[str] = []
        try:
            for name in _STAND_IN_MODULES:
                if name not in sys.modules:
                    sys.modules[name] = types.ModuleType(name)
                    added.append(name)
            module = importlib.import_module("hogql_parser")
        finally:
            for name in reversed(added):
                sys.modules.pop(name, None)
        _module = module
        return module


def position_of(source: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a code point offset in `source`."""
    offset = max(0, min(offset, len(source)))
    line = source.count("\n", 0, offset) + 1
    line_start = source.rfind("\n", 0, offset) + 1
    return line, offset - line_start + 1


def _offset(pos: Any) -> int | None:
    if isinstance(pos, dict) and isinstance(pos.get("offset"), int):
        return int(pos["offset"])
    return None


def _run(func_name: str, text: str, source: str, shift: int) -> dict[str, Any]:
    """Call `hogql_parser.<func_name>(text)`; positions in errors are mapped back onto `source`.

    The source is scanned first (`guard.py`): past a hard bound it is refused; small and shallow
    sources are parsed here (a few milliseconds); the rest in a parse process (`parse_pool.py`),
    where a crash or a runaway parse costs this call only.
    """
    measured = scan(source, template=func_name == "parse_full_template_string_json")
    if measured.violation is not None:
        line, column = position_of(source, measured.offset)
        raise HogSourceLimitError(violation_message(measured.violation), line, column)
    left = budget.remaining()
    if left is not None and left <= 0:
        raise HogSyntaxError("Could not parse Hog: the time budget of this request was used up")
    try:
        if measured.is_small:
            raw = getattr(load_parser(), func_name)(text)
        else:
            raw = parse_pool.parse_in_process(func_name, text, parse_pool.TIMEOUT_SECONDS if left is None else left)
    except parse_pool.ParseProcessError as exc:
        raise HogSyntaxError(f"Could not parse Hog: {exc}") from exc
    except Exception as exc:  # the extension may raise for inputs it can not handle
        raise HogSyntaxError(f"Could not parse Hog: {exc}") from exc
    result = json.loads(raw)
    if not isinstance(result, dict):
        raise HogSyntaxError("Could not parse Hog: unexpected parser output")
    if result.get("error"):
        message = _tidy(str(result.get("message") or "Syntax error"))
        kind = result.get("type")
        if kind and kind != "SyntaxError":
            message = f"{kind}: {message}"
        offset = _offset(result.get("start"))
        if offset is None:
            raise HogSyntaxError(message)
        line, column = position_of(source, offset - shift)
        raise HogSyntaxError(message, line, column)
    return result


def _tidy(message: str) -> str:
    """Shorten ANTLR's "expecting {ALL, AND, ...}" lists of 150 token names."""
    head, sep, expected = message.partition(" expecting {")
    if not sep or expected.count(",") < 8:
        return message
    if "'<EOF>'" in head:
        return f"{head}: unexpected end of input"
    return head


def parse_program(src: str) -> dict[str, Any]:
    """Parse a Hog program into the parser's JSON AST (`{"node": "Program", "declarations": [...]}`)."""
    return _run("parse_program_json", src, src, 0)


def parse_expr(src: str) -> dict[str, Any]:
    """Parse a single Hog expression into the parser's JSON AST."""
    return _run("parse_expr_json", src, src, 0)


def parse_template(src: str) -> dict[str, Any]:
    """Parse a Hog string template (`"Hello {person.properties.name}"`).

    As in PostHog, the text is parsed as `F'` + `src` with the full-template rule, which runs to the
    end of the input (quotes need no escaping, `\\{` is a literal brace). The result is a `Constant`
    for plain text, the expression itself for a lone `{expr}`, else a `Call` to `concat`.
    Node positions are relative to the prefixed text (2 code points further than in `src`).
    """
    return _run("parse_full_template_string_json", _TEMPLATE_PREFIX + src, src, len(_TEMPLATE_PREFIX))
