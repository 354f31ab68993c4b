"""Null and JSON semantics where PostHog's two current VMs agree (or, where they differ, its production
TypeScript VM): facts read from `common/hogvm/typescript/src/stl/stl.ts`, `common/hogvm/python/stl/__init__.py`
and the `nulls`/`json`/`numericEquality` fixtures."""

from typing import Any

import pytest

from app.hog import HogVMError, execute
from app.hog.compiler import compile_program


def _printed(expression: str) -> str:
    result = execute(compile_program(f"print({expression})"))
    assert result.finished
    return str(result.prints[0])


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # JSONExtract: "Last argument is the return type (ClickHouse convention), which we ignore" (both VMs).
        ("""typeof(JSONExtract('{"age": "30"}', 'age', 'Int'))""", "string"),
        ("""typeof(JSONExtract('{"a": 1}', 'a', 'String'))""", "integer"),
        ("""JSONExtract('{"a": 1}', 'a', 'Bool')""", "1"),
        ("""JSONExtract('{"a": [1, [2, 3]]}', 'a', 2, -1, 'Int64')""", "3"),
        ("""JSONExtract('{"a": null}', 'a', 'String')""", "null"),
        ("""JSONExtract('{"a": 1}', 'missing', 'String')""", "null"),
        ("""JSONExtract('not json', 'a', 'String')""", "null"),
        # greater/less: TypeScript's `a > b` on JavaScript values, like the operators: null is 0 against numbers.
        ("greater(null, -1)", "true"),
        ("less(null, 1)", "true"),
        ("greaterOrEquals(null, null)", "true"),
        ("less(null, null)", "false"),
        ("greater(2, '1')", "true"),
        ("less('a', 1)", "false"),
        ("greater({'a': 1}, {'a': 0})", "false"),
        # ...and the operators themselves (the `nulls` fixture: `length(null) < 3` is true).
        ("null < 3", "true"),
        ("null > 3", "false"),
        ("null = 0", "false"),
        ("null = null", "true"),
        # concat skips nulls and prints the rest as Hog does (both VMs).
        ("concat('a', null, 1, true, [1, 'x'])", "a1true[1, 'x']"),
        # jsonStringify: JavaScript's JSON (compact, indent capped at 10, cycles as null, functions by name).
        ("jsonStringify({'a': [1, null]})", '{"a":[1,null]}'),
        ("jsonStringify({'a': 1}, 2)", '{\n  "a": 1\n}'),
        ("jsonStringify(x -> x)", '"fn<lambda(1)>"'),
    ],
)
def test_expression(expression: str, expected: Any) -> None:
    assert _printed(expression) == expected


@pytest.mark.parametrize("program", ["print(1 in null)", "print('a' not in null)", "let x := null; print(x in x)"])
def test_membership_in_null_fails_as_in_both_posthog_vms(program: str) -> None:
    # TypeScript: `null.includes(x)` throws; Python: `x in None` raises TypeError.
    with pytest.raises(HogVMError, match="Can not check membership in null"):
        execute(compile_program(program))


def test_cycles_stringify_as_null() -> None:
    result = execute(compile_program("let a := {'x': 1}; a.self := a; print(jsonStringify(a))"))
    assert result.prints == ['{"x":1,"self":null}']
