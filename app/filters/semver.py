"""Semver operators (`semver_eq` ... `semver_wildcard`) as plain Hog expressions.

PostHog compares `sortableSemver(x)` arrays. Here the filter value is parsed when the
filter is compiled, and the property is split into numeric (major, minor, patch)
parts at run time with standard functions only, guarded by `if(...)` so a value that
isn't a version never reaches the numeric comparison (and simply doesn't match).
"""

from __future__ import annotations

from app.filters import ast as A
from app.filters.ast import Node
from app.filters.errors import FiltersCompileError

Version = tuple[int, int, int]

# A full `major.minor.patch` with an optional `v` prefix and `-pre`/`+build` suffix.
VERSION_PATTERN = r"^\s*v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][^\s]*)?\s*$"


def parse_version(value: object) -> Version:
    """Parse a filter value: pre-release stripped, missing parts default to 0."""
    text = str(value).strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    base = text.split("-")[0].split("+")[0]
    parts = base.split(".")
    if not parts or not parts[0]:
        raise ValueError("Invalid semver format")
    numbers = [int(p) for p in [*parts, "0", "0"][:3]]
    return numbers[0], numbers[1], numbers[2]


def _tilde_bounds(value: str) -> tuple[Version, Version]:
    major, minor, patch = parse_version(value)
    if len(value.split("-")[0].split(".")) < 2:
        return (major, 0, 0), (major + 1, 0, 0)
    return (major, minor, patch), (major, minor + 1, 0)


def _caret_bounds(value: str) -> tuple[Version, Version]:
    major, minor, patch = parse_version(value)
    if major > 0:
        upper = (major + 1, 0, 0)
    elif minor > 0:
        upper = (0, minor + 1, 0)
    else:
        upper = (0, 0, patch + 1)
    return (major, minor, patch), upper


def _wildcard_bounds(value: str) -> tuple[Version, Version]:
    trimmed = value.strip().rstrip(".*")
    if not trimmed:
        raise ValueError("Invalid wildcard pattern")
    parts = trimmed.split("-")[0].split(".")
    numbers = [int(p) for p in parts]
    if len(numbers) == 1:
        return (numbers[0], 0, 0), (numbers[0] + 1, 0, 0)
    if len(numbers) == 2:
        return (numbers[0], numbers[1], 0), (numbers[0], numbers[1] + 1, 0)
    return (numbers[0], numbers[1], numbers[2]), (numbers[0], numbers[1], numbers[2] + 1)


def _parts(expr: Node) -> tuple[Node, Node, Node]:
    text = A.call("replaceOne", A.call("trim", A.call("toString", expr)), A.constant("v"), A.constant(""))
    core = A.array_access(
        A.call(
            "splitByString",
            A.constant("+"),
            A.array_access(A.call("splitByString", A.constant("-"), text), A.constant(1)),
        ),
        A.constant(1),
    )
    numbers = A.call("splitByString", A.constant("."), core)
    return (
        A.call("toInt", A.array_access(numbers, A.constant(1))),
        A.call("toInt", A.array_access(numbers, A.constant(2))),
        A.call("toInt", A.array_access(numbers, A.constant(3))),
    )


def _equal(parts: tuple[Node, Node, Node], version: Version) -> Node:
    return A.and_([A.compare(A.EQ, p, A.constant(v)) for p, v in zip(parts, version, strict=True)])


def _order(parts: tuple[Node, Node, Node], version: Version, strict_op: str, last_op: str) -> Node:
    """Lexicographic (major, minor, patch) comparison: `strict_op` for the leading parts."""
    (major, minor, patch), (a, b, c) = parts, version
    return A.or_(
        [
            A.compare(strict_op, major, A.constant(a)),
            A.and_(
                [
                    A.compare(A.EQ, major, A.constant(a)),
                    A.or_(
                        [
                            A.compare(strict_op, minor, A.constant(b)),
                            A.and_(
                                [
                                    A.compare(A.EQ, minor, A.constant(b)),
                                    A.compare(last_op, patch, A.constant(c)),
                                ]
                            ),
                        ]
                    ),
                ]
            ),
        ]
    )


def _compare(parts: tuple[Node, Node, Node], op: str, version: Version) -> Node:
    if op == "eq":
        return _equal(parts, version)
    if op == "neq":
        return A.not_(_equal(parts, version))
    if op == "gt":
        return _order(parts, version, A.GT, A.GT)
    if op == "gte":
        return _order(parts, version, A.GT, A.GT_EQ)
    if op == "lt":
        return _order(parts, version, A.LT, A.LT)
    return _order(parts, version, A.LT, A.LT_EQ)  # lte


def _guarded(expr: Node, body: Node) -> Node:
    is_version = A.call("match", A.call("toString", expr), A.constant(VERSION_PATTERN))
    return A.call("if", is_version, body, A.constant(False))


SEMVER_OPERATORS = frozenset(
    {
        "semver_eq",
        "semver_neq",
        "semver_gt",
        "semver_gte",
        "semver_lt",
        "semver_lte",
        "semver_tilde",
        "semver_caret",
        "semver_wildcard",
    }
)

_RANGE_NAMES = {"semver_tilde": "Tilde", "semver_caret": "Caret", "semver_wildcard": "Wildcard"}
_RANGE_BOUNDS = {"semver_tilde": _tilde_bounds, "semver_caret": _caret_bounds, "semver_wildcard": _wildcard_bounds}


def semver_expr(expr: Node, operator: str, value: object) -> Node:
    parts = _parts(expr)
    if operator in _RANGE_BOUNDS:
        name = _RANGE_NAMES[operator]
        if not isinstance(value, str):
            raise FiltersCompileError(f"{name} operator requires a semver string value")
        try:
            lower, upper = _RANGE_BOUNDS[operator](value)
        except (ValueError, IndexError) as exc:
            raise FiltersCompileError(f"{name} operator requires a valid semver string (e.g., '1.2.3')") from exc
        body = A.and_([_compare(parts, "gte", lower), _compare(parts, "lt", upper)])
        return _guarded(expr, body)
    try:
        version = parse_version(value)
    except (ValueError, IndexError) as exc:
        raise FiltersCompileError(f"{operator} operator requires a valid semver string (e.g., '1.2.3')") from exc
    return _guarded(expr, _compare(parts, operator.removeprefix("semver_"), version))
