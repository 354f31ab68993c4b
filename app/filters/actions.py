"""Saved actions (`{"steps": [...]}`) → Hog expression AST."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.filters import ast as A
from app.filters.ast import Node
from app.filters.context import BuildContext
from app.filters.elements import SelectorError, selector_to_expr, tag_name_to_expr
from app.filters.errors import FiltersCompileError
from app.filters.properties import property_to_expr

AUTOCAPTURE_EVENT = "$autocapture"


def never() -> Node:
    """`1 = 2`: matches nothing (an action that doesn't exist)."""
    return A.compare(A.EQ, A.constant(1), A.constant(2))


def _texts_exist(op: str, value: str) -> Node:
    compare = A.compare(op, A.field("x"), A.constant(value))
    return A.call("arrayExists", A.lambda_(["x"], compare), A.field("elements_chain_texts"))


def _autocapture_exprs(step: Mapping[str, Any]) -> list[Node]:
    exprs: list[Node] = []
    selector = step.get("selector")
    if selector:
        try:
            exprs.append(selector_to_expr(str(selector)))
        except SelectorError as exc:
            raise FiltersCompileError(str(exc)) from exc
    if step.get("tag_name") is not None:
        exprs.append(tag_name_to_expr(str(step["tag_name"])))
    href = step.get("href")
    if href is not None:
        href_field = A.field("elements_chain_href")
        matching = step.get("href_matching")
        if matching == "regex":
            exprs.append(A.compare(A.REGEX, href_field, A.constant(href)))
        elif matching == "contains":
            exprs.append(A.compare(A.ILIKE, href_field, A.constant(f"%{href}%")))
        else:
            exprs.append(A.compare(A.EQ, href_field, A.constant(href)))
    text = step.get("text")
    if text is not None:
        matching = step.get("text_matching")
        if matching == "regex":
            exprs.append(_texts_exist(A.REGEX, text))
        elif matching == "contains":
            exprs.append(_texts_exist(A.ILIKE, f"%{text}%"))
        else:
            exprs.append(_texts_exist(A.EQ, text))
    return exprs


def _url_expr(step: Mapping[str, Any]) -> Node:
    url = step["url"]
    url_field = A.field("properties", "$current_url")
    matching = step.get("url_matching")
    if matching == "exact":
        return A.compare(A.EQ, url_field, A.constant(url))
    if matching == "regex":
        return A.compare(A.REGEX, url_field, A.constant(url))
    return A.compare(A.LIKE, url_field, A.constant(f"%{url}%"))


def step_to_expr(step: Mapping[str, Any], ctx: BuildContext) -> Node:
    exprs: list[Node] = []
    event = step.get("event")
    if event:
        exprs.append(A.compare(A.EQ, A.field("event"), A.constant(event)))
    if event == AUTOCAPTURE_EVENT:
        exprs.extend(_autocapture_exprs(step))
    if step.get("url"):
        exprs.append(_url_expr(step))
    if step.get("properties"):
        exprs.append(property_to_expr(step["properties"], ctx))
    return A.all_of(exprs, empty=True)


def action_steps(action: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    steps = action.get("steps")
    if steps is None:
        steps = action.get("steps_json")
    if not isinstance(steps, list):
        return []
    return [s for s in steps if isinstance(s, Mapping)]


def action_to_expr(action: Mapping[str, Any], ctx: BuildContext) -> Node:
    """The action's steps OR-ed (an action without steps matches every event)."""
    return A.any_of([step_to_expr(step, ctx) for step in action_steps(action)], empty=True)
