"""Filters → bytecode: the behaviour of PostHog's `HogFunctionFiltersSerializer` (api.md §4.7-§4.8)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.filters import ast as A
from app.filters.ast import Node
from app.filters.errors import FiltersCompileError, cohort_error
from app.filters.expression import build_filters_expression

# Keys of a filters object that survive compilation (everything else is dropped).
KEPT_KEYS = ("actions", "events", "properties", "filter_test_accounts", "source", "data_warehouse", "transpiled")

# Functions the CDP runtime offers to destinations but not to filters.
_HOST_ONLY_FUNCTIONS = frozenset({"fetch", "postHogCapture", "sleep", "run", "print"})


def compile_expression_ast(expr: Node, *, settings_url: str | None = None) -> list[Any]:
    """Compile an expression AST to bytecode with the Hog compiler."""
    for node in A.walk(expr):
        if node.get("node") == "Call" and node.get("name") in _HOST_ONLY_FUNCTIONS:
            raise FiltersCompileError(f"Hog function `{node['name']}` is not implemented")
    from app.hog.compiler import compile_ast

    try:
        return compile_ast(expr, mode="expr")
    except FiltersCompileError:
        raise
    except Exception as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        if "Can't use cohorts in real-time filters" in message:
            raise cohort_error(settings_url) from exc
        raise FiltersCompileError(message) from exc


def clean_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Only the keys the serializer keeps (`bytecode`/`bytecode_error` are recomputed)."""
    return {key: filters[key] for key in KEPT_KEYS if key in filters}


def compile_filters(filters: Mapping[str, Any] | None, **kwargs: Any) -> dict[str, Any]:
    """Compile a filters object; returns the kept keys plus `bytecode`.

    Takes the keyword arguments of `build_filters_expression` (`test_account_filters`,
    `actions`, `timezone`, `now`, `cohorts`, `property_types`, `path_cleaning_filters`,
    `settings_url`). Empty filters (`{}`/`None`) come back as `{}` without bytecode.
    Raises `FiltersCompileError` whose `str` is the raw reason.
    """
    if not filters:
        return {}
    if not isinstance(filters, Mapping):
        raise FiltersCompileError("Filters must be an object")
    cleaned = clean_filters(filters)
    for key in ("actions", "events"):
        if key in cleaned and cleaned[key] is not None and not isinstance(cleaned[key], list):
            raise FiltersCompileError(f"{key} must be a list")
    try:
        expr = build_filters_expression(cleaned, **kwargs)
    except FiltersCompileError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        # Filters are client JSON: a value of the wrong shape deep inside is the client's error, not ours.
        raise FiltersCompileError(f"Invalid filters: {type(exc).__name__}: {exc}") from exc
    cleaned["bytecode"] = compile_expression_ast(expr, settings_url=kwargs.get("settings_url"))
    return cleaned


def compile_conversion_filters(property_filters: list[Any] | None, **kwargs: Any) -> tuple[list[Any], list[Any]]:
    """Conversion filters (a list of property filters, api.md §4.7) → `(filters, bytecode)`.

    An empty list gives bytecode `[]`.
    """
    filters = list(property_filters or [])
    if not filters:
        return filters, []
    compiled = compile_filters({"properties": filters}, **kwargs)
    return compiled["properties"], compiled["bytecode"]
