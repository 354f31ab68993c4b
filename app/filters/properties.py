"""Property filters (`{key, value, operator, type, ...}`) → Hog expression AST (api.md §10.4-§10.5)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.filters import ast as A
from app.filters.ast import Node
from app.filters.context import BuildContext
from app.filters.dates import resolve_date_value
from app.filters.elements import SelectorError, selector_to_expr, tag_name_to_expr
from app.filters.errors import FiltersCompileError, cohort_error
from app.filters.hogql import hogql_to_expr
from app.filters.semver import SEMVER_OPERATORS, semver_expr

COHORT_TYPES = frozenset({"cohort", "static-cohort", "precalculated-cohort", "dynamic-cohort"})
# Types read from a field of the globals.
FIELD_TYPES = frozenset(
    {
        "event",
        "person",
        "group",
        "event_metadata",
        "workflow_variable",
        "session",
        "feature",
        "behavioral",
        "recording",
        "log_entry",
        "data_warehouse",
        "data_warehouse_person_property",
    }
)
KNOWN_TYPES = FIELD_TYPES | COHORT_TYPES | {"element", "hogql"}
# Property objects that never filter anything ("always true" placeholders).
PLACEHOLDER_TYPES = frozenset({"empty", "flag"})

VALUELESS_OPERATORS = frozenset({"is_set", "is_not_set"})
# Operators that take a whole list as their value rather than one comparison per value.
LIST_OPERATORS = frozenset(
    {
        "between",
        "not_between",
        "icontains",
        "not_icontains",
        "icontains_multi",
        "not_icontains_multi",
        "in",
        "not_in",
    }
)
# A list of values for these operators is AND-ed (every value must hold); others OR.
AND_OPERATORS = frozenset({"is_not", "not_icontains", "not_regex"})

_ORDER_OPS = {"gt": A.GT, "gte": A.GT_EQ, "min": A.GT_EQ, "lt": A.LT, "lte": A.LT_EQ, "max": A.LT_EQ}
_DATE_OPS = {"is_date_exact": A.EQ, "is_date_before": A.LT, "is_date_after": A.GT}


@dataclass
class PropertyFilter:
    key: str
    value: Any
    operator: str
    type: str
    group_type_index: int | None = None
    negation: bool = False


def always_true() -> Node:
    """The "always true" placeholder: the integer 1 (a final result of 1 never matches)."""
    return A.constant(1)


def parse_property(raw: Any) -> PropertyFilter | None:
    """Validate a property object; `None` when it is incomplete/invalid (then ignored)."""
    if not isinstance(raw, Mapping) or "key" not in raw:
        return None
    prop_type = raw.get("type") or "event"
    if prop_type in PLACEHOLDER_TYPES or prop_type not in KNOWN_TYPES:
        return None
    key = raw.get("key")
    if key is None:
        return None
    operator = raw.get("operator") or "exact"
    value = raw.get("value")
    if value is None and operator not in VALUELESS_OPERATORS and prop_type != "hogql":
        return None
    if value is None and operator in VALUELESS_OPERATORS:
        value = operator
    group_type_index = raw.get("group_type_index")
    if prop_type == "group":
        if group_type_index is None or isinstance(group_type_index, bool):
            return None
        try:
            group_type_index = int(group_type_index)
        except (TypeError, ValueError):
            return None
        if not 0 <= group_type_index <= 4:
            return None
    negation = raw.get("negation")
    return PropertyFilter(
        key=key if isinstance(key, str) else str(key),
        value=value,
        operator=str(operator),
        type=str(prop_type),
        group_type_index=group_type_index if prop_type == "group" else None,
        negation=bool(negation) and str(negation).lower() not in ("false", "0"),
    )


def is_property_group(raw: Any) -> bool:
    return isinstance(raw, Mapping) and "values" in raw and "key" not in raw


def property_to_expr(prop: Any, ctx: BuildContext) -> Node:
    """A property filter, a list of them (AND-ed) or a group `{type: AND|OR, values}`."""
    if isinstance(prop, list):
        exprs = [property_to_expr(p, ctx) for p in prop]
        return A.all_of(exprs, empty=1)
    if is_property_group(prop):
        group_type = str(prop.get("type") or "AND").upper()
        if group_type not in ("AND", "OR"):
            raise FiltersCompileError(f'PropertyGroup of unknown type "{prop.get("type")}"')
        values = prop.get("values") or []
        if not isinstance(values, list):
            return always_true()
        exprs = [property_to_expr(p, ctx) for p in values]
        if group_type == "AND":
            return A.all_of(exprs, empty=1)
        return A.any_of(exprs, empty=1)
    parsed = parse_property(prop)
    if parsed is None:
        return always_true()
    return filter_to_expr(parsed, ctx)


def filter_to_expr(prop: PropertyFilter, ctx: BuildContext) -> Node:
    if prop.type == "hogql":
        return hogql_to_expr(prop.key, settings_url=ctx.settings_url)
    if prop.type in COHORT_TYPES:
        raise cohort_error(ctx.settings_url)
    if prop.type == "element":
        return _element_expr(prop, ctx)
    return _field_expr(prop, ctx)


def field_chain(prop: PropertyFilter) -> list[str]:
    key = prop.key
    if prop.type == "event":
        return ["elements_chain"] if key == "$elements_chain" else ["properties", key]
    if prop.type == "person":
        return ["person", "pdi", "distinct_id"] if key == "distinct_id" else ["person", "properties", key]
    if prop.type == "group":
        return [f"group_{prop.group_type_index}", "properties", key]
    if prop.type in ("event_metadata", "recording", "log_entry"):
        return [key]
    if prop.type == "workflow_variable":
        return ["variables", key]
    if prop.type == "session":
        return ["session", key]
    if prop.type == "data_warehouse":
        return key.split(".")
    if prop.type == "data_warehouse_person_property":
        table, _, column = key.partition(".")
        return ["person", table, column] if column else ["person", table]
    return ["properties", key]


def _field_expr(prop: PropertyFilter, ctx: BuildContext) -> Node:
    expr = A.field(*field_chain(prop))
    value, operator = prop.value, prop.operator
    if isinstance(value, list) and operator not in LIST_OPERATORS:
        if len(value) == 0:
            return always_true()
        if len(value) == 1:
            value = value[0]
        elif operator in ("exact", "is_not"):
            op = A.IN if operator == "exact" else A.NOT_IN
            return A.compare(op, expr, A.tuple_(A.constant(v) for v in value))
        else:
            exprs = [compare_to_expr(expr, v, operator, prop, ctx) for v in value]
            return A.and_(exprs) if operator in AND_OPERATORS else A.or_(exprs)
    return compare_to_expr(expr, value, operator, prop, ctx)


def _element_expr(prop: PropertyFilter, ctx: BuildContext) -> Node:
    value, operator = prop.value, prop.operator
    if isinstance(value, list):
        if len(value) == 0:
            return always_true()
        if len(value) > 1:
            exprs = [_element_expr(PropertyFilter(prop.key, v, operator, prop.type), ctx) for v in value]
            return A.and_(exprs) if operator in AND_OPERATORS else A.or_(exprs)
        value = value[0]
    if prop.key in ("selector", "tag_name"):
        if operator not in ("exact", "is_not"):
            raise FiltersCompileError(
                f"property_to_expr for element {prop.key} only supports exact and is_not operators, not {operator}"
            )
        try:
            expr = selector_to_expr(str(value)) if prop.key == "selector" else tag_name_to_expr(str(value))
        except SelectorError as exc:
            raise FiltersCompileError(str(exc)) from exc
        return A.call("not", expr) if operator == "is_not" else expr
    if prop.key == "href":
        return compare_to_expr(A.field("elements_chain_href"), value, operator, prop, ctx)
    if prop.key == "text":
        compare = compare_to_expr(A.field("text"), value, operator, prop, ctx)
        return A.call("arrayExists", A.lambda_(["text"], compare), A.field("elements_chain_texts"))
    raise FiltersCompileError(f"property_to_expr for type element not implemented for key {prop.key}")


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def _bool_value(value: Any, prop: PropertyFilter, ctx: BuildContext) -> Any:
    """`"true"`/`"false"` become booleans only for properties known to be Boolean."""
    if value is True:
        value = "true"
    elif value is False:
        value = "false"
    if value != "true" and value != "false":
        return value
    if ctx.property_types.get((prop.type, prop.key)) == "Boolean":
        return value == "true"
    return value


def _multi_search(expr: Node, values: list[Any]) -> Node:
    return A.call(
        "multiSearchAnyCaseInsensitive",
        A.call("toString", expr),
        A.array(A.constant(_text(v)) for v in values),
    )


def _between_bounds(value: Any, operator: str) -> list[Any]:
    if not isinstance(value, list) or len(value) != 2:
        raise FiltersCompileError(f"{operator} operator requires a two-element array [min, max]")
    try:
        low, high = float(value[0]), float(value[1])
    except (TypeError, ValueError) as exc:
        raise FiltersCompileError(f"{operator} operator requires numeric values") from exc
    if low > high:
        raise FiltersCompileError(f"{operator} operator requires min value to be less than or equal to max value")
    return value


def _to_datetime(expr: Node) -> Node:
    if expr.get("node") == "Constant" and isinstance(expr.get("value"), str):
        return A.call("toDateTime", expr)
    return A.call("toDateTime", A.call("toString", expr))


def _clean_path(expr: Node, ctx: BuildContext) -> Node:
    for rule in ctx.path_cleaning_filters:
        regex, alias = rule.get("regex"), rule.get("alias")
        if not isinstance(regex, str) or alias is None:
            continue
        if expr.get("node") == "Constant" and isinstance(expr.get("value"), str):
            try:
                expr = A.constant(re.sub(regex, str(alias), expr["value"]))
                continue
            except re.error as exc:
                raise FiltersCompileError(f"Invalid path cleaning regex: {regex}") from exc
        expr = A.call("replaceRegexpAll", expr, A.constant(regex), A.constant(str(alias)))
    return expr


def compare_to_expr(expr: Node, value: Any, operator: str, prop: PropertyFilter, ctx: BuildContext) -> Node:
    """One comparison of `expr` against `value` with a property operator."""
    if operator == "is_set":
        return A.compare(A.NOT_EQ, expr, A.constant(None))
    if operator == "is_not_set":
        return A.compare(A.EQ, expr, A.constant(None))
    if operator in ("icontains", "not_icontains"):
        if isinstance(value, list):
            if len(value) == 0:
                return always_true()
            if len(value) > 1:
                found = _multi_search(expr, value)
                return A.compare(A.GT if operator == "icontains" else A.EQ, found, A.constant(0))
            value = value[0]
        op = A.ILIKE if operator == "icontains" else A.NOT_ILIKE
        return A.compare(op, A.call("toString", expr), A.constant(f"%{_text(value)}%"))
    if operator in ("icontains_multi", "not_icontains_multi"):
        values = value if isinstance(value, list) else [value]
        if not values:
            return always_true()
        found = _multi_search(expr, values)
        return A.compare(A.GT if operator == "icontains_multi" else A.EQ, found, A.constant(0))
    if operator == "regex":
        matched = A.call("match", A.call("toString", expr), A.constant(_text(value)))
        return A.call("ifNull", matched, A.constant(False))
    if operator == "not_regex":
        matched = A.call("match", A.call("toString", expr), A.constant(_text(value)))
        return A.call("ifNull", A.call("not", matched), A.constant(True))
    if operator == "exact":
        return A.compare(A.EQ, expr, A.constant(_bool_value(value, prop, ctx)))
    if operator == "is_not":
        return A.compare(A.NOT_EQ, expr, A.constant(_bool_value(value, prop, ctx)))
    if operator in _ORDER_OPS:
        return A.compare(_ORDER_OPS[operator], expr, A.constant(value))
    if operator in _DATE_OPS:
        if not isinstance(value, str):
            raise FiltersCompileError(f"{operator} operator requires a date string value")
        resolved = resolve_date_value(value, ctx.timezone, ctx.now)
        return A.compare(_DATE_OPS[operator], _to_datetime(expr), _to_datetime(A.constant(resolved)))
    if operator == "between":
        low, high = _between_bounds(value, operator)
        return A.and_([A.compare(A.GT_EQ, expr, A.constant(low)), A.compare(A.LT_EQ, expr, A.constant(high))])
    if operator == "not_between":
        low, high = _between_bounds(value, operator)
        return A.or_([A.compare(A.LT, expr, A.constant(low)), A.compare(A.GT, expr, A.constant(high))])
    if operator == "is_cleaned_path_exact":
        return A.compare(A.EQ, _clean_path(expr, ctx), _clean_path(A.constant(value), ctx))
    if operator in ("in", "not_in"):
        if not isinstance(value, list):
            raise FiltersCompileError("IN and NOT IN operators require a list of values")
        if not value:
            return always_true()
        op = A.IN if operator == "in" else A.NOT_IN
        return A.compare(op, expr, A.tuple_(A.constant(v) for v in value))
    if operator in SEMVER_OPERATORS:
        return semver_expr(expr, operator, value)
    raise FiltersCompileError(f"PropertyOperator {operator} not implemented")
