"""`hogql` property filters: the filter key is itself a Hog/HogQL expression."""

from __future__ import annotations

from typing import Any

from app.filters import ast as A
from app.filters.ast import Node
from app.filters.errors import FiltersCompileError, cohort_error


def _parse(source: str) -> Any:
    from app.hog.parser import HogCompileError, parse_expr

    try:
        return parse_expr(source)
    except HogCompileError as exc:
        raise FiltersCompileError(str(exc)) from exc


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
