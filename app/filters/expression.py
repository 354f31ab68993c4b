"""Filters object → Hog expression AST (api.md §10.2).

    E = AND(testAccountFilters..., globalProperties..., OR(eventOrActionBranches...))

Single-operand AND/OR nodes collapse to the operand, so `{"events": [{"id": "$pageview",
"type": "events"}]}` becomes just `event = '$pageview'` (as in PostHog).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.filters import ast as A
from app.filters.actions import action_to_expr, never
from app.filters.ast import Node
from app.filters.context import BuildContext
from app.filters.errors import FiltersCompileError
from app.filters.properties import COHORT_TYPES, is_property_group, property_to_expr

# Internal events whose properties are nested JSON: dotted keys (`detail.name`) become paths.
INTERNAL_NESTED_PROPERTY_EVENTS = frozenset({"$activity_log_entry_created"})


def _entries(filters: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = filters.get(key)
    if not isinstance(value, list):
        return []
    return [entry for entry in value if isinstance(entry, Mapping)]


def _resolve_nested_keys(expr: Node) -> Node:
    def split(node: Node) -> Node:
        chain = node["chain"]
        if not chain or chain[0] != "properties":
            return node
        resolved: list[Any] = [chain[0]]
        for part in chain[1:]:
            resolved.extend(part.split(".") if isinstance(part, str) and "." in part else [part])
        return dict(node, chain=resolved)

    result: Node = A.map_fields(expr, split)
    return result


def _entry_expr(entry: Mapping[str, Any], ctx: BuildContext) -> Node:
    exprs: list[Node] = []
    entry_type = entry.get("type")
    if entry_type == "events":
        event_id = entry.get("id")
        if event_id is None:
            exprs.append(A.constant(True))
        else:
            exprs.append(A.compare(A.EQ, A.field("event"), A.constant(event_id)))
    elif entry_type == "actions":
        action = ctx.find_action(entry.get("id")) if entry.get("id") is not None else None
        exprs.append(action_to_expr(action, ctx) if action is not None else never())
    if entry.get("properties"):
        exprs.append(property_to_expr(entry["properties"], ctx))
    expr = A.all_of(exprs, empty=True)
    if _names_nested_event(entry):
        expr = _resolve_nested_keys(expr)
    return expr


def _global_property_exprs(filters: Mapping[str, Any], ctx: BuildContext) -> list[Node]:
    properties = filters.get("properties")
    if not properties:
        return []
    if isinstance(properties, list):
        return [property_to_expr(prop, ctx) for prop in properties]
    if is_property_group(properties):
        return [property_to_expr(properties, ctx)]
    return []


# --- test account filters ---------------------------------------------------------------


def _non_person_types(tree: Any) -> set[str]:
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
        elif isinstance(node, Mapping):
            node_type = node.get("type")
            if node_type in ("AND", "OR"):
                visit(node.get("values") or [])
            elif node_type != "person":
                found.add(str(node_type or "<unknown>"))

    visit(tree)
    return found


def _cohort_tree_expr(tree: Any, ctx: BuildContext) -> Node:
    """A cohort's person-property tree as an expression (leaf `negation` → NOT)."""
    if isinstance(tree, list):
        return A.all_of([_cohort_tree_expr(item, ctx) for item in tree], empty=True)
    if isinstance(tree, Mapping) and tree.get("type") in ("AND", "OR"):
        children = [_cohort_tree_expr(v, ctx) for v in tree.get("values") or []]
        if tree["type"] == "AND":
            return A.all_of(children, empty=True)
        return A.any_of(children, empty=True)
    expr = property_to_expr(tree, ctx)
    if isinstance(tree, Mapping) and tree.get("negation"):
        expr = A.not_(expr)
    return expr


def _inline_cohort(prop: Mapping[str, Any], ctx: BuildContext) -> tuple[Node | None, str | None]:
    cohort_id = prop.get("value")
    if cohort_id is None:
        return None, "cohort filter has no value"
    cohort = ctx.find_cohort(cohort_id)
    if cohort is None:
        return None, f"cohort id={cohort_id} not found"
    name = cohort.get("name")
    if cohort.get("is_static"):
        return None, (
            f"cohort '{name}' (id={cohort_id}) is a static cohort — static cohort membership "
            "can't be evaluated in real-time filters"
        )
    properties = (cohort.get("filters") or {}).get("properties")
    if not properties:
        return None, f"cohort '{name}' (id={cohort_id}) has no properties defined"
    non_person = _non_person_types(properties)
    if non_person:
        return None, (
            f"cohort '{name}' (id={cohort_id}) contains {', '.join(sorted(non_person))} filters — "
            "only cohorts with exclusively person property filters can be used in real-time filters"
        )
    expr = _cohort_tree_expr(properties, ctx)
    if A.is_constant(expr, True):
        return None, f"cohort '{name}' (id={cohort_id}) has no person property filters"
    if prop.get("negation") or prop.get("operator") == "not_in":
        expr = A.not_(expr)
    return expr, None


def _test_account_exprs(
    filters: Mapping[str, Any], test_account_filters: list[Any] | None, ctx: BuildContext
) -> list[Node]:
    if not filters.get("filter_test_accounts") or not test_account_filters:
        return []
    exprs: list[Node] = []
    failures: list[str] = []
    for prop in test_account_filters:
        if isinstance(prop, Mapping) and prop.get("type") in COHORT_TYPES:
            expr, reason = _inline_cohort(prop, ctx)
            if expr is not None:
                exprs.append(expr)
            elif reason:
                failures.append(reason)
            continue
        exprs.append(property_to_expr(prop, ctx))
    if failures:
        message = (
            "Your internal/test user filters include cohorts that can't be used in real-time filters: "
            f"{'; '.join(failures)}. Either switch to a cohort that only uses person properties, "
            "or replace the cohort with inline person property filters."
        )
        if ctx.settings_url:
            message += f" Update your filters at: {ctx.settings_url}"
        raise FiltersCompileError(message)
    return exprs


# --- entry point -------------------------------------------------------------------------


def _names_nested_event(entry: Mapping[str, Any]) -> bool:
    event_id = entry.get("id")
    return isinstance(event_id, str) and event_id in INTERNAL_NESTED_PROPERTY_EVENTS


def build_expression(filters: Mapping[str, Any], ctx: BuildContext, test_account_filters: list[Any] | None) -> Node:
    test_accounts = _test_account_exprs(filters, test_account_filters, ctx)
    global_properties = _global_property_exprs(filters, ctx)
    entries = _entries(filters, "events") + _entries(filters, "actions")
    if not entries:
        return A.all_of(test_accounts + global_properties, empty=True)

    branches = [_entry_expr(entry, ctx) for entry in entries]
    if all(_names_nested_event(entry) for entry in entries):
        global_properties = [_resolve_nested_keys(expr) for expr in global_properties]
    return A.all_of([*test_accounts, *global_properties, A.any_of(branches)], empty=True)


def build_filters_expression(
    filters: Mapping[str, Any],
    *,
    test_account_filters: list[Any] | None = None,
    actions: Mapping[Any, Mapping[str, Any]] | None = None,
    timezone: str = "UTC",
    now: datetime | None = None,
    cohorts: Mapping[Any, Mapping[str, Any]] | None = None,
    property_types: Mapping[tuple[str, str], str] | None = None,
    path_cleaning_filters: list[Mapping[str, Any]] | None = None,
    settings_url: str | None = None,
) -> Node:
    """Build the Hog expression AST (hogql-parser JSON format) for a filters object.

    Raises `FiltersCompileError` for filters that can't be evaluated in real time
    (cohorts, bad operator values, ...).
    """
    if not isinstance(filters, Mapping):
        raise FiltersCompileError("Filters must be an object")
    ctx = BuildContext(
        timezone=timezone,
        now=now,
        actions=actions or {},
        cohorts=cohorts or {},
        property_types=property_types or {},
        path_cleaning_filters=list(path_cleaning_filters or []),
        settings_url=settings_url,
    )
    return build_expression(filters, ctx, test_account_filters)
