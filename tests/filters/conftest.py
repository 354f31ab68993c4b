"""Shared sample data and helpers for the filters tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.filters.ast import strip_positions

NOW = datetime(2024, 6, 20, 12, 0, 0, tzinfo=UTC)

ELEMENTS_CHAIN = (
    'button.btn.primary:attr__data-attr="signup"attr_id="signup-btn"nth-child="1"nth-of-type="1"'
    'text="Sign up now";'
    'form.signup-form:attr_id="signup"nth-child="2"nth-of-type="1";'
    'a.nav-link:href="/pricing"nth-child="3"nth-of-type="1"text="Pricing";'
    'div.container.main:nth-child="1"nth-of-type="1";'
    'body:nth-child="1"nth-of-type="1"'
)

SAMPLE_EVENT: dict[str, Any] = {
    "uuid": "0190b0a1-0000-7000-8000-000000000001",
    "event": "$pageview",
    "distinct_id": "user-1",
    "timestamp": "2024-06-15T12:00:00Z",
    "elements_chain": ELEMENTS_CHAIN,
    "properties": {
        "$browser": "Chrome",
        "$os": "Mac OS X",
        "$current_url": "https://example.com/pricing?plan=pro",
        "$pathname": "/pricing",
        "count": 15,
        "count_str": "15",
        "price": 9.99,
        "is_paid": True,
        "flag_str": "true",
        "signup_date": "2024-06-01T10:00:00Z",
        "app_version": "1.4.2",
        "old_version": "v0.9.12-beta.1",
        "plan": "pro",
        "empty": "",
        "nullish": None,
        "utm_source": "Newsletter_2024",
        "$group_0": "acme",
    },
}

SAMPLE_PERSON: dict[str, Any] = {
    "id": "01900000-0000-7000-8000-00000000a11c",
    "properties": {"email": "alice@example.com", "name": "Alice", "age": 31, "plan": "pro"},
}

SAMPLE_GROUPS: dict[str, Any] = {
    "company": {"id": "acme", "index": 0, "type": "company", "properties": {"name": "Acme", "employees": 120}},
    "project": {"id": "p-9", "index": 2, "type": "project", "properties": {"tier": "gold"}},
}

SAMPLE_VARIABLES: dict[str, Any] = {"score": 10, "segment": "vip"}


def parse(src: str) -> dict[str, Any]:
    """The parser's JSON AST for Hog source, without positions."""
    from app.hog.parser import parse_expr

    return strip_positions(parse_expr(src))


def flatten(node: Any) -> Any:
    """Merge nested AND/AND and OR/OR nodes (the parser flattens `a and (b and c)`)."""
    if isinstance(node, list):
        return [flatten(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: flatten(v) for k, v in node.items()}
    if node.get("node") in ("And", "Or"):
        exprs: list[Any] = []
        for child in node["exprs"]:
            if isinstance(child, dict) and child.get("node") == node["node"]:
                exprs.extend(child["exprs"])
            else:
                exprs.append(child)
        node["exprs"] = exprs
    return node


def same_value(one: Any, other: Any) -> bool:
    """Equal and of the same types all the way down (`True == 1` and `1 == 1.0` are not enough)."""
    if type(one) is not type(other):
        return False
    if isinstance(one, dict):
        return one.keys() == other.keys() and all(same_value(one[key], other[key]) for key in one)
    if isinstance(one, list | tuple):
        return len(one) == len(other) and all(same_value(a, b) for a, b in zip(one, other, strict=True))
    if isinstance(one, float) and one != one:
        return other != other
    return bool(one == other)


def assert_fast_path_agrees(bytecode: list[Any], globals_: dict[str, Any]) -> bool:
    """`run_filter_bytecode` (fast path first) gives what the VM alone gives; True if it ran fast."""
    from app.filters.evaluate import run_filter_bytecode, run_filter_bytecode_on_vm
    from app.hog.fastpath import FastPathUnavailable, fast_program

    fast = run_filter_bytecode(bytecode, globals_)
    reference = run_filter_bytecode_on_vm(bytecode, globals_)
    assert (fast.matched, fast.error, fast.prefiltered) == (reference.matched, reference.error, reference.prefiltered)
    assert same_value(fast.result, reference.result), (fast.result, reference.result)
    program = fast_program(bytecode)
    if program is None:
        return False
    try:
        program.run(globals_)
    except FastPathUnavailable:
        return False
    except Exception:  # a timeout: already compared above
        pass
    return True
