"""Constructors for Hog expression nodes in the hogql-parser JSON AST format.

The Hog compiler (`app.hog.compiler.compile_ast`) consumes exactly the JSON that
`hogql_parser.parse_expr_json` produces, so every node built here has the same
keys as the parser's output (without the `start`/`end` position keys).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

Node = dict[str, Any]

# Comparison operator spellings used by the parser's JSON output.
EQ = "=="
NOT_EQ = "!="
GT = ">"
GT_EQ = ">="
LT = "<"
LT_EQ = "<="
LIKE = "like"
ILIKE = "ilike"
NOT_LIKE = "not like"
NOT_ILIKE = "not ilike"
IN = "in"
NOT_IN = "not in"
REGEX = "=~"
NOT_REGEX = "!~"
IREGEX = "=~*"
NOT_IREGEX = "!~*"
IN_COHORT = "in cohort"
NOT_IN_COHORT = "not in cohort"

_POSITION_KEYS = frozenset({"start", "end"})


def constant(value: Any) -> Node:
    return {"node": "Constant", "value": value}


def field(*chain: str | int) -> Node:
    return {"node": "Field", "chain": list(chain)}


def call(name: str, *args: Node) -> Node:
    return {
        "node": "Call",
        "name": name,
        "args": list(args),
        "params": None,
        "distinct": False,
        "filter_expr": None,
        "order_by": None,
    }


def compare(op: str, left: Node, right: Node) -> Node:
    return {"node": "CompareOperation", "op": op, "left": left, "right": right}


def and_(exprs: Sequence[Node]) -> Node:
    return {"node": "And", "exprs": list(exprs)}


def or_(exprs: Sequence[Node]) -> Node:
    return {"node": "Or", "exprs": list(exprs)}


def not_(expr: Node) -> Node:
    return {"node": "Not", "expr": expr}


def array(exprs: Iterable[Node]) -> Node:
    return {"node": "Array", "exprs": list(exprs)}


def tuple_(exprs: Iterable[Node]) -> Node:
    return {"node": "Tuple", "exprs": list(exprs)}


def array_access(array_expr: Node, prop: Node) -> Node:
    return {"node": "ArrayAccess", "array": array_expr, "property": prop}


def lambda_(args: Sequence[str], expr: Node) -> Node:
    return {"node": "Lambda", "args": list(args), "expr": expr}


def all_of(exprs: Sequence[Node], *, empty: Any = True) -> Node:
    """AND the expressions, collapsing a single operand to itself (as PostHog does)."""
    if not exprs:
        return constant(empty)
    if len(exprs) == 1:
        return exprs[0]
    return and_(exprs)


def any_of(exprs: Sequence[Node], *, empty: Any = True) -> Node:
    """OR the expressions, collapsing a single operand to itself."""
    if not exprs:
        return constant(empty)
    if len(exprs) == 1:
        return exprs[0]
    return or_(exprs)


def is_constant(node: Node, value: Any) -> bool:
    if node.get("node") != "Constant":
        return False
    found = node.get("value")
    return type(found) is type(value) and found == value


def strip_positions(node: Any) -> Any:
    """Drop the parser's `start`/`end` keys (recursively), e.g. to compare ASTs."""
    if isinstance(node, dict):
        return {k: strip_positions(v) for k, v in node.items() if k not in _POSITION_KEYS}
    if isinstance(node, list):
        return [strip_positions(v) for v in node]
    return node


def walk(node: Any) -> Iterator[Node]:
    """Yield every AST node (dicts carrying a `node` key) in the tree, parents first."""
    if isinstance(node, dict):
        if "node" in node:
            yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def map_fields(node: Any, fn: Callable[[Node], Node]) -> Any:
    """Return a copy of the tree with every `Field` node replaced by `fn(field)`."""
    if isinstance(node, dict):
        if node.get("node") == "Field":
            return fn(dict(node, chain=list(node.get("chain") or [])))
        return {k: map_fields(v, fn) for k, v in node.items()}
    if isinstance(node, list):
        return [map_fields(v, fn) for v in node]
    return node
