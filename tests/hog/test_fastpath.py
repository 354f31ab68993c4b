"""The filter fast path (`app.hog.fastpath`) against the VM: same values, same errors, same limits."""

from __future__ import annotations

import random
from typing import Any

import pytest

from app.filters import ast as A
from app.filters.evaluate import run_filter_bytecode, run_filter_bytecode_on_vm
from app.hog import HogTimeoutError, HogVMError, Limits, execute
from app.hog.compiler import compile_ast, compile_expression, compile_program
from app.hog.fastpath import FastPathUnavailable, compile_fast, fast_program
from tests.filters.conftest import same_value

GLOBALS: dict[str, Any] = {
    "event": "$pageview",
    "distinct_id": "user-1",
    "properties": {"a": 15, "s": "15", "url": "https://example.com/pricing", "list": [1, "x"], "nested": {"c": 2}},
    "person": {"properties": {"email": "alice@example.com"}},
}


def vm_outcome(bytecode: list[Any], globals_: dict[str, Any], limits: Limits | None = None) -> tuple[str, Any]:
    try:
        return "ok", execute(bytecode, dict(globals_), limits=limits).result
    except HogVMError as exc:
        return "error", str(exc)


def fast_outcome(bytecode: list[Any], globals_: dict[str, Any], limits: Limits | None = None) -> tuple[str, Any]:
    program = fast_program(bytecode)
    assert program is not None, "expected the fast path to support this bytecode"
    try:
        return "ok", program.run(globals_, limits)
    except FastPathUnavailable:
        return "handed over", None
    except HogTimeoutError as exc:
        return "error", str(exc)


@pytest.mark.parametrize(
    "source",
    [
        "event = '$pageview' and properties.a > 3",
        "properties.s = 15 and properties.a = '15'",
        "properties.missing.deeper = null",
        "properties.list[2] ?? 'none'",
        "properties.list[5] ?? properties.nested.c",
        "properties.url =~ 'pri.ing' and not (properties.url !~* 'PRICING')",
        "toString(properties.a) ilike '%5'",
        "properties.a in (1, 15, 20) and properties.s not in ('1', '2')",
        "properties.a + 1 - 2 * 3 / 4",
        "if(properties.a > 10, 'big', 'small')",
        "properties.a > 10 ? concat('a', toString(properties.a)) : null",
        "person.properties.email like '%@example.com'",
        "[1, properties.a, {'k': properties.s}]",
        "(1, 'a', true)",
        "properties.nested",
        "null < 3 and not (null > 3)",
    ],
)
def test_expressions_agree_with_the_vm(source: str) -> None:
    bytecode = compile_expression(source)
    assert fast_outcome(bytecode, GLOBALS)[0] == "ok"
    fast, vm = fast_outcome(bytecode, GLOBALS), vm_outcome(bytecode, GLOBALS)
    assert fast[0] == vm[0] and same_value(fast[1], vm[1]), (fast, vm)


def test_locals_and_a_final_return() -> None:
    bytecode = compile_program("let a := properties.a; let b := properties.none ?? 2; a := a + b; return a * 2")
    assert fast_outcome(bytecode, GLOBALS) == ("ok", 34) == vm_outcome(bytecode, GLOBALS)


def test_errors_hand_over_so_the_message_is_the_vms() -> None:
    bytecode = compile_expression("properties.list > 3")
    assert fast_outcome(bytecode, GLOBALS) == ("handed over", None)
    reference = run_filter_bytecode_on_vm(bytecode, GLOBALS)
    assert reference.error and "Can not compare" in reference.error
    assert run_filter_bytecode(bytecode, GLOBALS) == reference


def test_a_missing_global_hands_over_the_vm_may_find_a_function() -> None:
    bytecode = ["_H", 1, 32, "toString", 1, 1]  # GET_GLOBAL of a function name: a closure on the VM
    assert fast_outcome(bytecode, GLOBALS) == ("handed over", None)
    assert repr(run_filter_bytecode(bytecode, GLOBALS)) == repr(run_filter_bytecode_on_vm(bytecode, GLOBALS))
    assert "Closure(Callable(stl, 'toString'" in repr(run_filter_bytecode(bytecode, GLOBALS).result)


@pytest.mark.parametrize("value", [None, "set"])
def test_a_timeout_gives_the_vms_message_and_op_count(value: Any) -> None:
    # A zero budget times out after the first native call; the op count there depends on the branch.
    bytecode = compile_expression("length(toString(properties.v ?? 'default')) > 1")
    globals_ = {"properties": {"v": value}}
    limits = Limits(timeout_s=0)
    fast, vm = fast_outcome(bytecode, globals_, limits), vm_outcome(bytecode, globals_, limits)
    assert fast == vm
    assert vm[0] == "error" and vm[1].startswith("Execution timed out after 0 seconds. Performed ")
    assert run_filter_bytecode(bytecode, globals_, limits=limits) == run_filter_bytecode_on_vm(
        bytecode, globals_, limits=limits
    )


def test_memory_limit_hands_over_before_the_vm_would_measure() -> None:
    bytecode = compile_expression("length(properties.big) > 0")
    globals_ = {"properties": {"big": list(range(200))}}
    limits = Limits(memory_bytes=1000)
    assert fast_outcome(bytecode, globals_, limits) == ("handed over", None)
    reference = run_filter_bytecode_on_vm(bytecode, globals_, limits=limits)
    assert reference.error and "Memory limit" in reference.error
    assert run_filter_bytecode(bytecode, globals_, limits=limits) == reference
    assert fast_outcome(bytecode, globals_)[0] == "ok"  # the default budget is plenty


def test_a_small_op_budget_hands_over() -> None:
    bytecode = compile_expression("properties.a > 3 and properties.a < 30")
    assert fast_outcome(bytecode, GLOBALS, Limits(max_ops=3)) == ("handed over", None)
    assert fast_outcome(bytecode, GLOBALS, Limits(max_ops=100)) == ("ok", True)


def test_bytecode_strings_never_become_source() -> None:
    hostile = "x'); __import__('os').system('false'); ('"
    bytecode = ["_H", 1, 32, hostile, 32, "event", 1, 1, 11, 32, hostile, 4, 2]
    program = fast_program(bytecode)
    assert program is not None and hostile not in program.source and "__import__" not in program.source
    assert program.run({"event": hostile}) is True
    assert program.run({"event": "other"}) is True


def test_cache_by_identity_then_by_typed_content() -> None:
    bytecode = ["_H", 1, 33, 1, 32, "v", 1, 1, 11]
    assert fast_program(bytecode) is fast_program(bytecode) is fast_program(list(bytecode))
    as_bool = ["_H", 1, 29, 32, "v", 1, 1, 11]
    one_as_true = ["_H", 1, 33, True, 32, "v", 1, 1, 11]  # INTEGER true: pushes the boolean
    for code in (as_bool, one_as_true):
        assert fast_program(code) is not fast_program(bytecode)
        assert fast_outcome(code, {"v": True}) == vm_outcome(code, {"v": True}) == ("ok", True)
    assert fast_outcome(bytecode, {"v": True}) == vm_outcome(bytecode, {"v": True}) == ("ok", True)
    assert fast_outcome(bytecode, {"v": 1.0}) == vm_outcome(bytecode, {"v": 1.0})


@pytest.mark.parametrize(
    "bytecode",
    [
        compile_program("let i := 0; while (i < 3) { i := i + 1 } return i"),
        compile_expression("arrayExists(x -> x = 1, [1, 2])"),
        compile_expression("print('hi')"),
        ["_h", 33, 1],
        ["_H", 1, 99],
        ["_H", 1, 35],  # POP on an empty stack
        ["_H", 1, 29, 40, -4],  # a backward jump (never taken here)
        ["_H", 1, 2, "noSuchFunction", 0],
        ["_H", 1, 2, "toString", 0],  # wrong arity
    ],
)
def test_unsupported_bytecode_is_left_to_the_vm(bytecode: list[Any]) -> None:
    assert compile_fast(bytecode) is None
    assert run_filter_bytecode(bytecode, GLOBALS) == run_filter_bytecode_on_vm(bytecode, GLOBALS)


# --- fuzz: random expressions (built as ASTs: no parser, so thousands stay fast) over random globals --

_VALUES: list[Any] = [None, True, False, 0, 1, 15, -2, 2.5, "15", "2.5", "abc", "ABC", "true", "", "a_c%"]
_VALUES += [[1, "a"], {"c": 1}, "2024-01-01T00:00:00Z", "1.4.2"]
_FIELDS = [
    ("event",),
    ("properties", "a"),
    ("properties", "b"),
    ("properties", "nested", "c"),
    ("properties", "missing"),
    ("person", "properties", "email"),
    ("distinct_id",),
]
_CONSTANTS: list[Any] = [0, 1, 15, -3, 2.5, None, True, False, "15", "abc", "ABC", "", "true", "%b%", "a_c"]
_CONSTANTS += ["^a", "c$", "[a-c]+", "2024-01-01", "("]
_COMPARE = ["==", "!=", "<", ">", "<=", ">=", "like", "ilike", "not like", "not ilike", "=~", "!~", "=~*", "!~*"]
_ARITH = ["+", "-", "*", "/", "%"]
_CALLS = ["toString", "toInt", "toFloat", "lower", "upper", "length", "empty", "notEmpty", "isNull", "trim"]
_CALLS2 = ["concat", "ifNull", "coalesce", "match", "like", "position", "startsWith", "equals", "greater"]


def _leaf(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.5:
        return A.field(*rng.choice(_FIELDS))
    if roll < 0.6:
        return A.array_access(A.field("properties", "list"), A.constant(rng.choice([1, 2, -1, 0, "x"])))
    return A.constant(rng.choice(_CONSTANTS))


def _expression(rng: random.Random, depth: int) -> dict[str, Any]:
    if depth <= 0 or rng.random() < 0.25:
        return _leaf(rng)
    kind = rng.randrange(9)
    a, b, c = (_expression(rng, depth - 1) for _ in range(3))
    if kind == 0:
        return A.compare(rng.choice(_COMPARE), a, b)
    if kind == 1:
        return {"node": "ArithmeticOperation", "op": rng.choice(_ARITH), "left": a, "right": b}
    if kind == 2:
        return rng.choice([A.and_, A.or_])([a, b, c][: rng.randrange(1, 4)])
    if kind == 3:
        return A.not_(a)
    if kind == 4:
        return A.call("ifNull", a, b)  # `a ?? b`: JUMP_IF_STACK_NOT_NULL
    if kind == 5:
        return A.call("if", a, b, c)  # JUMP_IF_FALSE / JUMP
    if kind == 6:
        return A.call(rng.choice(_CALLS), a)
    if kind == 7:
        return A.call(rng.choice(_CALLS2), a, b)
    items = [_leaf(rng) for _ in range(rng.randrange(1, 4))]
    haystack = rng.choice([A.tuple_, A.array])(items)
    return A.compare(rng.choice(["in", "not in"]), a, haystack)


def _globals(rng: random.Random) -> dict[str, Any]:
    properties = {key: rng.choice(_VALUES) for key in ("a", "b") if rng.random() < 0.9}
    properties["nested"] = rng.choice([{"c": rng.choice(_VALUES)}, None, "x"])
    properties["list"] = [rng.choice(_VALUES) for _ in range(rng.randrange(3))]
    return {
        "event": rng.choice(["$pageview", "signed_up", ""]),
        "distinct_id": rng.choice(["user-1", 15, None]),
        "properties": properties,
        "person": rng.choice([None, {"properties": {"email": rng.choice(_VALUES)}}]),
    }


def test_fuzz_random_expressions_agree_with_the_vm() -> None:
    rng = random.Random(20261204)
    counts = {"ok": 0, "error": 0, "handed over": 0, "unsupported": 0}
    for _ in range(1500):
        node = _expression(rng, rng.randrange(1, 5))
        try:
            bytecode = compile_ast(node, mode="expr")
        except Exception:
            continue
        if fast_program(bytecode) is None:
            counts["unsupported"] += 1
            continue
        for _ in range(3):
            globals_ = _globals(rng)
            vm, fast = vm_outcome(bytecode, globals_), fast_outcome(bytecode, globals_)
            counts[fast[0]] += 1
            if fast[0] == "handed over":
                continue
            assert fast[0] == vm[0] and same_value(fast[1], vm[1]), (node, globals_, fast, vm)
            assert run_filter_bytecode(bytecode, globals_) == run_filter_bytecode_on_vm(bytecode, globals_)
    # Not vacuous: most runs gave a value on the fast path, and errors were handed over.
    assert counts["ok"] > 2500, counts
    assert counts["unsupported"] < 50, counts
    assert counts["handed over"] > 100, counts


def test_deep_nesting_and_huge_programs_stay_on_the_vm() -> None:
    def nested(levels: int) -> list[Any]:
        node = A.constant(1)
        for _ in range(levels):
            node = A.call("if", A.field("properties", "a"), node, A.constant(2))
        return compile_ast(node, mode="expr")

    deep = nested(60)
    assert compile_fast(deep) is None
    assert run_filter_bytecode(deep, GLOBALS) == run_filter_bytecode_on_vm(deep, GLOBALS)
    shallow = nested(10)
    assert fast_outcome(shallow, GLOBALS) == vm_outcome(shallow, GLOBALS) == ("ok", 1)
    huge = ["_H", 1] + [29] * 30_000
    assert compile_fast(huge) is None
