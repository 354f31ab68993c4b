"""`hogql` property filters: the filter key is itself a Hog/HogQL expression."""

from __future__ import annotations

import json
from typing import Any

from app.filters import ast as A
from app.filters.ast import Node
from app.filters.errors import FiltersCompileError, cohort_error


def _parse(source: str) -> Any:
    """Parse with the project's Hog parser (`app.hog.parser`)."""
    try:
        from app.hog import parser
    except ImportError as exc:  # pragma: no cover - depends on the Hog runtime being installed
        raise FiltersCompileError("HogQL filters need the Hog parser, which is not available") from exc
    for name in ("parse_expr", "parse_expr_json", "parse_expression"):
        fn = getattr(parser, name, None)
        if callable(fn):
            try:
                result = fn(source)
            except FiltersCompileError:
                raise
            except Exception as exc:
                raise FiltersCompileError(str(exc) or type(exc).__name__) from exc
            return json.loads(result) if isinstance(result, str | bytes) else result
    raise FiltersCompileError("HogQL filters need the Hog parser, which is not available")


def hogql_to_expr(source: str, *, settings_url: str | None = None) -> Node:
    node = _parse(source)
    if not isinstance(node, dict):
        raise FiltersCompileError(f"Could not parse HogQL expression: {source}")
    if node.get("error"):
        raise FiltersCompileError(str(node.get("message") or "Syntax error"))
    node = A.strip_positions(node)
    for child in A.walk(node):
        kind = child.get("node")
        if kind in ("SelectQuery", "SelectSetQuery"):
            raise FiltersCompileError("Select queries are not allowed in filters")
        if kind == "CompareOperation" and child.get("op") in (A.IN_COHORT, A.NOT_IN_COHORT):
            raise cohort_error(settings_url)
    return node
