"""The Hog compiler: PostHog's fixtures (bytecode equality and runs) plus one test per construct."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.hog import execute
from app.hog.compiler import HogCompileError, compile_ast, compile_expression, compile_program
from app.hog.opcodes import Op
from app.hog.parser import HogSyntaxError

SUITE = Path(__file__).resolve().parents[2].parent / "shared" / "hog-suite"
FIXTURES = sorted(path.stem for path in SUITE.glob("*.hog"))
RUNNABLE = [name for name in FIXTURES if (SUITE / f"{name}.stdout").exists()]


def typed(value: Any) -> Any:
    """Make `1` and `1.0` and `True` distinct when comparing bytecode."""
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def test_suite_is_present() -> None:
    assert len(FIXTURES) >= 32, f"Hog fixtures not found in {SUITE}"


# ---------------------------------------------------------------------------------------------------
# Fixtures: compiled bytecode equals PostHog's `.hoge`
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_bytecode_matches_posthog(name: str) -> None:
    expected = json.loads((SUITE / f"{name}.hoge").read_text())
    compiled = compile_program((SUITE / f"{name}.hog").read_text())
    assert typed(compiled) == typed(expected)
    # JSON-clean output: plain ints, never `Op` members
    assert not any(isinstance(item, Op) for item in compiled)
    assert json.loads(json.dumps(compiled)) == compiled


# ---------------------------------------------------------------------------------------------------
# Fixtures: compile the source, run it, compare what it prints (the required check)
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RUNNABLE)
def test_fixture_compiles_and_prints_the_expected_output(name: str) -> None:
    bytecode = compile_program((SUITE / f"{name}.hog").read_text())
    result = execute(bytecode)
    assert result.finished
    output = "".join(f"{line}\n" for line in result.prints)
    assert output == (SUITE / f"{name}.stdout").read_text()


def test_runnable_fixture_count() -> None:
    assert len(RUNNABLE) >= 31


# ---------------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------------

EXPRESSIONS = [
    ("1 + 2", [33, 2, 33, 1, 6]),
    ("event = '$pageview'", [32, "$pageview", 32, "event", 1, 1, 11]),
    (
        "person.properties.$browser = 'Chrome'",
        [32, "Chrome", 32, "$browser", 32, "properties", 32, "person", 1, 3, 11],
    ),
    ("true", [29]),
    ("false", [30]),
    ("null", [31]),
    ("1.5", [34, 1.5]),
    ("-1", [33, -1]),
    ("-x", [32, "x", 1, 1, 33, 0, 7]),
    ("'a'", [32, "a"]),
    ("a and b and c", [32, "a", 1, 1, 32, "b", 1, 1, 32, "c", 1, 1, 3, 3]),
    ("a or b", [32, "a", 1, 1, 32, "b", 1, 1, 4, 2]),
    ("not a", [32, "a", 1, 1, 5]),
    ("not(a)", [32, "a", 1, 1, 5]),
    ("and(a, b)", [32, "a", 1, 1, 32, "b", 1, 1, 3, 2]),
    ("or(a, b, c)", [32, "a", 1, 1, 32, "b", 1, 1, 32, "c", 1, 1, 4, 3]),
    ("x is null", [31, 32, "x", 1, 1, 11]),
    ("x is not null", [31, 32, "x", 1, 1, 12]),
    ("a != 1", [33, 1, 32, "a", 1, 1, 12]),
    ("a > 1", [33, 1, 32, "a", 1, 1, 13]),
    ("a >= 1", [33, 1, 32, "a", 1, 1, 14]),
    ("a < 1", [33, 1, 32, "a", 1, 1, 15]),
    ("a <= 1", [33, 1, 32, "a", 1, 1, 16]),
    ("a like 'x%'", [32, "x%", 32, "a", 1, 1, 17]),
    ("a ilike 'x%'", [32, "x%", 32, "a", 1, 1, 18]),
    ("a not like 'x%'", [32, "x%", 32, "a", 1, 1, 19]),
    ("a not ilike 'x%'", [32, "x%", 32, "a", 1, 1, 20]),
    ("a in [1]", [33, 1, 43, 1, 32, "a", 1, 1, 21]),
    ("a not in (1, 2)", [33, 1, 33, 2, 44, 2, 32, "a", 1, 1, 22]),
    ("a =~ 'x'", [32, "x", 32, "a", 1, 1, 23]),
    ("a !~ 'x'", [32, "x", 32, "a", 1, 1, 24]),
    ("a =~* 'x'", [32, "x", 32, "a", 1, 1, 25]),
    ("a !~* 'x'", [32, "x", 32, "a", 1, 1, 26]),
    ("a % 2", [33, 2, 32, "a", 1, 1, 10]),
    ("a / 2 * 3 - 1", [33, 1, 33, 3, 33, 2, 32, "a", 1, 1, 9, 8, 7]),
    ("a ?? b", [32, "a", 1, 1, 47, 5, 35, 32, "b", 1, 1]),
    ("ifNull(a, 1)", [32, "a", 1, 1, 47, 3, 35, 33, 1]),
    ("a ? 1 : 2", [32, "a", 1, 1, 40, 4, 33, 1, 39, 2, 33, 2]),
    ("if(a, 1)", [32, "a", 1, 1, 40, 4, 33, 1, 39, 1, 31]),
    (
        "multiIf(a, 1, b, 2, 3)",
        [32, "a", 1, 1, 40, 4, 33, 1, 39, 12, 32, "b", 1, 1, 40, 4, 33, 2, 39, 2, 33, 3],
    ),
    ("'a' || b", [32, "a", 32, "b", 1, 1, 2, "concat", 2]),
    ("f'Hi {x}!'", [32, "Hi ", 32, "x", 1, 1, 32, "!", 2, "concat", 3]),
    ("f'{x}'", [32, "x", 1, 1]),
    ("[1, 'a']", [33, 1, 32, "a", 43, 2]),
    ("(1, 2)", [33, 1, 33, 2, 44, 2]),
    ("{'a': 1, 2: b}", [32, "a", 33, 1, 33, 2, 32, "b", 1, 1, 42, 2]),
    ("{}", [42, 0]),
    ("a[1]", [32, "a", 1, 1, 33, 1, 45]),
    ("a?.[1]", [32, "a", 1, 1, 33, 1, 48]),
    ("a?.b", [32, "a", 1, 1, 32, "b", 48]),
    ("a.2", [32, "a", 1, 1, 33, 2, 45]),
    ("a?.2", [32, "a", 1, 1, 33, 2, 48]),
    ("{'a': 1}.a", [32, "a", 33, 1, 42, 1, 32, "a", 45]),
    ("length('abc')", [32, "abc", 2, "length", 1]),
    ("arrayMap(x -> x * 2, [1])", [52, "lambda", 1, 0, 6, 33, 2, 36, 0, 8, 38, 53, 0, 33, 1, 43, 1, 2, "arrayMap", 2]),
    ("(x -> x)(1)", [33, 1, 52, "lambda", 1, 0, 3, 36, 0, 38, 53, 0, 54, 1]),
    ("inf", [34, float("inf")]),
    ("`a b`.c", [32, "c", 32, "a b", 1, 2]),
    ("a as b", [32, "a", 1, 1]),
    ("interval 1 day", [33, 1, 2, "toIntervalDay", 1]),
    ("case when a then 1 else 2 end", [32, "a", 1, 1, 40, 4, 33, 1, 39, 2, 33, 2]),
]


@pytest.mark.parametrize(("source", "expected"), EXPRESSIONS)
def test_expression(source: str, expected: list[Any]) -> None:
    assert typed(compile_expression(source)) == typed(["_H", 1, *expected])


def test_between_uses_hidden_locals_like_posthog() -> None:
    assert compile_expression("5 between 1 and 10") == [
        "_H", 1, 31, 33, 5, 33, 1, 33, 10,
        36, 2, 31, 12, 36, 3, 31, 12, 36, 1, 31, 12, 3, 3, 40, 14,
        36, 2, 36, 1, 14, 36, 3, 36, 1, 16, 3, 2, 39, 1, 30,
        37, 0, 35, 35, 35,
    ]  # fmt: skip
    negated = compile_expression("5 not between 1 and 10")
    assert negated[25:36] == [36, 2, 36, 1, 15, 36, 3, 36, 1, 13, 4]


def test_between_below_pending_operands_gets_the_right_slots() -> None:
    # `[1, x between ...]`: the array's first item sits in slot 0, the hidden locals start at 1.
    code = compile_expression("[1, 5 between 1 and 10]")
    assert code[2:4] == [33, 1]
    assert code[4:12] == [31, 33, 5, 33, 1, 33, 10, 36]
    assert code[12] == 3  # low is slot 3 (result 1, x 2)
    assert code[-7:] == [37, 1, 35, 35, 35, 43, 2]


def test_nan_and_big_numbers() -> None:
    code = compile_expression("nan")
    assert code[2] == 34 and code[3] != code[3]
    assert compile_expression("99999999999999999999999") == ["_H", 1, 33, 99999999999999999999999]


# ---------------------------------------------------------------------------------------------------
# Statements
# ---------------------------------------------------------------------------------------------------

PROGRAMS = [
    ("", []),
    ("1", [33, 1, 35]),
    ("let a := 1", [33, 1, 35]),
    ("let a", [31, 35]),
    ("let a := 1; a := 2", [33, 1, 33, 2, 37, 0, 35]),
    ("let a := {}; a.b := 2", [42, 0, 36, 0, 32, "b", 33, 2, 46, 35]),
    ("let a := {}; a.b.c := 2", [42, 0, 36, 0, 32, "b", 45, 32, "c", 33, 2, 46, 35]),
    ("let a := [1]; a[1] := 2", [33, 1, 43, 1, 36, 0, 33, 1, 33, 2, 46, 35]),
    ("let a := [1]; a.1 := 2", [33, 1, 43, 1, 36, 0, 33, 1, 33, 2, 46, 35]),
    ("let a := [[1]]; a.1.1 := 2", [33, 1, 43, 1, 43, 1, 36, 0, 33, 1, 45, 33, 1, 33, 2, 46, 35]),
    ("return 1", [33, 1, 38]),
    ("return", [31, 38]),
    ("throw Error('x')", [32, "x", 2, "Error", 1, 49]),
    ("{ let a := 1 }", [33, 1, 35]),
    ("if (a) { 1 }", [32, "a", 1, 1, 40, 3, 33, 1, 35]),
    ("if (a) 1; else 2", [32, "a", 1, 1, 40, 5, 33, 1, 35, 39, 3, 33, 2, 35]),
    ("while (a) { 1 }", [32, "a", 1, 1, 40, 5, 33, 1, 35, 39, -11]),
    ("for (;;) { 1 }", [33, 1, 35, 39, -5]),
    (
        "for (let i := 0; i < 3; i := i + 1) { }",
        [33, 0, 33, 3, 36, 0, 15, 40, 9, 33, 1, 36, 0, 6, 37, 0, 39, -16, 35],
    ),
    ("fun f() { }", [52, "f", 0, 0, 2, 31, 38, 53, 0, 35]),
    ("fun f(a) { return a }", [52, "f", 1, 0, 3, 36, 0, 38, 53, 0, 35]),
    ("fun f() { let x := 1 }", [52, "f", 0, 0, 5, 33, 1, 31, 38, 35, 53, 0, 35]),
    ("fun f() { let x := 1; return x }", [52, "f", 0, 0, 6, 33, 1, 36, 0, 38, 35, 53, 0, 35]),
    ("fun f() { return 1 }; f()", [52, "f", 0, 0, 3, 33, 1, 38, 53, 0, 36, 0, 54, 0, 35, 35]),
    ("let f := x -> { x }", [52, "lambda", 1, 0, 5, 36, 0, 35, 31, 38, 53, 0, 35]),
    ("let f := x -> { return x }", [52, "lambda", 1, 0, 3, 36, 0, 38, 53, 0, 35]),
    ("let f := () -> {}", [52, "lambda", 0, 0, 3, 42, 0, 38, 53, 0, 35]),
    # closures: capture a local of the enclosing function, or reuse its upvalue
    ("let a := 1; let f := () -> a", [33, 1, 52, "lambda", 0, 1, 3, 55, 0, 38, 53, 1, True, 0, 35, 57]),
    (
        "let a := 1; let f := () -> () -> a",
        [33, 1, 52, "lambda", 0, 1, 13, 52, "lambda", 0, 1, 3, 55, 0, 38, 53, 1, False, 0, 38, 53, 1, True, 0, 35, 57],
    ),
    (
        "let a := 1; let f := () -> { a := 2 }",
        [33, 1, 52, "lambda", 0, 1, 6, 33, 2, 56, 0, 31, 38, 53, 1, True, 0, 35, 57],
    ),
    (
        "let a := {}; let f := () -> { a.b := 2 }",
        [42, 0, 52, "lambda", 0, 1, 9, 55, 0, 32, "b", 33, 2, 46, 31, 38, 53, 1, True, 0, 35, 57],
    ),
    # a recursive lambda captures its own (still initializing) slot
    ("let f := () -> f()", [52, "lambda", 0, 1, 5, 55, 0, 54, 0, 38, 53, 1, True, 0, 57]),
]


@pytest.mark.parametrize(("source", "expected"), PROGRAMS)
def test_program(source: str, expected: list[Any]) -> None:
    assert typed(compile_program(source)) == typed(["_H", 1, *expected])


def test_let_initializer_reads_the_outer_binding() -> None:
    # `let x := x + 1` in an inner scope reads the outer `x` (slot 0), not its own empty slot.
    code = compile_program("let x := 1\n{ let x := x + 1\n print(x) }")
    assert code == ["_H", 1, 33, 1, 33, 1, 36, 0, 6, 36, 1, 2, "print", 1, 35, 35, 35]
    # and a global of the same name stays reachable
    assert compile_program("let event := event") == ["_H", 1, 32, "event", 1, 1, 35]


def test_for_in_with_keys() -> None:
    code = compile_program("for (let k, v in {'a': 1}) { print(k, v) }")
    assert code[:26] == [
        "_H", 1, 32, "a", 33, 1, 42, 1,
        36, 0, 2, "keys", 1,
        36, 0, 2, "values", 1,
        33, 1,
        36, 2, 2, "length", 1,
        31,
    ]  # fmt: skip
    assert code[-7:] == [35, 35, 35, 35, 35, 35, 35]


def test_try_catch_layout() -> None:
    code = compile_program("try { throw Error('x') } catch (e: MyError) { print(e) } catch { print(type) }")
    assert code == [
        "_H", 1,
        50, 10, 32, "x", 2, "Error", 1, 49, 51, 39, 32,
        36, 0, 32, "type", 45,
        32, "MyError", 36, 1, 11, 40, 8, 36, 0, 2, "print", 1, 35, 39, 10,
        36, 1, 2, "print", 1, 35, 39, 2,
        35, 49, 35, 35,
    ]  # fmt: skip


def test_catch_variable_with_another_name_aliases_the_error() -> None:
    code = compile_program("try { } catch (err) { print(err) }")
    # body: GET_LOCAL e -> new local `err`, print it, pop it
    assert code[code.index("type") + 2 :][:9] == [36, 0, 36, 2, 2, "print", 1, 35, 35]


def test_hogqlx_tag() -> None:
    assert compile_expression("<div a='b'>hi</div>") == [
        "_H", 1, 32, "__hx_tag", 32, "div", 32, "a", 32, "b", 32, "children", 32, "hi", 43, 1, 42, 3,
    ]  # fmt: skip


def test_parametric_call() -> None:
    assert compile_expression("f(1)(2)", functions=["f"]) == ["_H", 1, 33, 2, 33, 1, 2, "f", 1, 54, 1]


def test_host_functions() -> None:
    assert compile_program("fetch('x')")[-3:] == ["fetch", 1, 35]
    with pytest.raises(HogCompileError, match="Hog function `sendSms` is not implemented"):
        compile_program("sendSms('x')")
    assert compile_program("sendSms('x')", functions=["sendSms"])[-3:] == ["sendSms", 1, 35]


# ---------------------------------------------------------------------------------------------------
# compile_ast (used by app.filters with hand-built nodes)
# ---------------------------------------------------------------------------------------------------


def test_compile_ast_expression_without_positions() -> None:
    node = {
        "node": "CompareOperation",
        "op": "==",
        "left": {"node": "Field", "chain": ["event"]},
        "right": {"node": "Constant", "value": "$pageview"},
    }
    assert compile_ast(node) == ["_H", 1, 32, "$pageview", 32, "event", 1, 1, 11]


def test_compile_ast_program_mode() -> None:
    program = {
        "node": "Program",
        "declarations": [{"node": "ReturnStatement", "expr": {"node": "Constant", "value": 1}}],
    }
    assert compile_ast(program, mode="program") == ["_H", 1, 33, 1, 38]
    # a lone statement or expression is wrapped into a program
    assert compile_ast({"node": "Constant", "value": 1}, mode="program") == ["_H", 1, 33, 1, 35]


def test_compile_ast_integer_chain_parts() -> None:
    node = {"node": "Field", "chain": ["person", "properties", 1]}
    assert compile_ast(node) == ["_H", 1, 33, 1, 32, "properties", 32, "person", 1, 3]


def test_compile_ast_rejects_bad_mode() -> None:
    with pytest.raises(ValueError):
        compile_ast({"node": "Constant", "value": 1}, mode="nope")


def test_compile_ast_unknown_node() -> None:
    with pytest.raises(HogCompileError, match="Unsupported expression in Hog: WindowFunction"):
        compile_ast({"node": "WindowFunction", "name": "sum", "exprs": []})


# ---------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------

ERRORS = [
    ("a := 1", 'Variable "a" not declared in this scope. Can not assign to globals.', (1, 1)),
    ("let a := 1\nlet a := 2", "Variable `a` already declared in this scope", (2, 1)),
    ("print(1)\nnope(1)", "Hog function `nope` is not implemented", (2, 1)),
    ("try { } catch { } finally { }", "finally blocks are not yet supported", (1, 27)),
    ("let a := [1]\nprint(a[0])", "Array access starts from 1", (2, 9)),
    ("x in cohort 5", "Can't use cohorts in real-time filters", (1, 1)),
    ("1 := 2", "Can not assign to this type of expression", (1, 1)),
    ("fun f(a, a) { }", "Duplicate parameter name `a`", (1, 1)),
    ("print({x})", "Placeholders", (1, 7)),
    ("let a := sql(select 1)", "sql() is not supported", (1, 10)),
]


@pytest.mark.parametrize(("source", "message", "position"), ERRORS)
def test_compile_errors(source: str, message: str, position: tuple[int, int]) -> None:
    with pytest.raises(HogCompileError) as info:
        compile_program(source)
    assert message in info.value.message
    assert (info.value.line, info.value.column) == position


def test_syntax_errors_are_compile_errors_with_position() -> None:
    with pytest.raises(HogSyntaxError) as info:
        compile_program("let a := 1\nlet b := (")
    assert (info.value.line, info.value.column) == (2, 11)
    assert isinstance(info.value, HogCompileError)


def test_redeclaring_in_an_inner_scope_is_allowed() -> None:
    assert compile_program("let a := 1\n{ let a := 2 }") == ["_H", 1, 33, 1, 33, 2, 35, 35]


# ---------------------------------------------------------------------------------------------------
# Semantics beyond the fixtures: compile and run
# ---------------------------------------------------------------------------------------------------


def run(source: str) -> tuple[list[str], Any]:
    result = execute(compile_program(source))
    assert result.finished
    return result.prints, result.result


RUNS = [
    # `between` nested under other operands still finds its hidden locals
    ("print([1, 5 between 1 and 10, (0 between 1 and 2), 3])", ["[1, true, false, 3]"]),
    ("let a := [1, 2]\nprint(a[1] + (5 between 1 and 10 ? 10 : 20), {'k': 3 not between 1 and 2})", ["11 {'k': true}"]),
    ("print(arrayMap(x -> x between 2 and 3, [1, 2, 3, 4]))", ["[false, true, true, false]"]),
    ("print(null between 1 and 2, 1 between null and 2, 2 not between 1 and null)", ["false false false"]),
    # `let` initializers see the outer binding; closures in them see the new one
    ("let x := 1\n{ let x := x + 1\n print(x) }\nprint(x)", ["2", "1"]),
    ("let f := n -> n < 2 ? n : f(n - 1) + f(n - 2)\nprint(f(10))", ["55"]),
    # try/catch
    ("try { throw HogError('Oops', 'bad') } catch (err: Oops) { print(err.message, type) }", ["bad Oops"]),
    ("try { throw Error('bad') } catch (err) { print(err) }", ["Error('bad')"]),
    ("try { throw Error('x') } catch (e: Other) { print(1) } catch (e: Error) { print(2) }", ["2"]),
    (
        "fun f() { try { return 1 } catch { return 2 } }\nprint(f())\ntry { throw Error('y') } catch { print(3) }",
        ["1", "3"],
    ),
    # loops with locals in their bodies
    ("for (let i := 0; i < 3; i := i + 1) { let y := i * 2\n print(y) }", ["0", "2", "4"]),
    ("for (let k, v in {'a': 1, 'b': 2}) { let z := k\n print(z, v) }", ["a 1", "b 2"]),
    ("for (let k, v in ['x', 'y']) { print(k, v) }", ["0 x", "1 y"]),
    ("let i := 0\nwhile (i < 2) { let j := i\n i := j + 1\n print(i) }", ["1", "2"]),
    ("let i := 0\nfor (;;) { i := i + 1\n if (i > 3) { print(i)\n return i } }", ["4"]),
    ("let n := 0\nfor (n; n < 2; n := n + 1) { print(n) }", ["0", "1"]),
    # conditionals
    ("print(multiIf(false, 1, false, 2, 3), multiIf(false, 1, true, 2), if(false, 1))", ["3 2 null"]),
    ("if (false) print(1); else if (true) print(2); else print(3)", ["2"]),
    ("print(1 ?? 2, null ?? null ?? 3, ifNull(null, 'x'))", ["1 3 x"]),
    ("print(true and 1, false or 0, not 0, and(1, 1, 0), or(0, 0, 1))", ["true false true false true"]),
    # closures
    ("fun mk(a) { return b -> a + b }\nprint(mk(1)(2))", ["3"]),
    ("let a := {}\nlet f := () -> { a.b := 2 }\nf()\nprint(a)", ["{'b': 2}"]),
    ("let a := 1\nlet f := () -> { a := 2 }\nf()\nprint(a)", ["2"]),
    ("let a := 1\nlet f := () -> () -> a\na := 5\nprint(f()())", ["5"]),
    (
        "fun counter() { let n := 0\n return () -> { n := n + 1\n return n } }\n"
        "let c := counter()\nc()\nprint(c(), counter()())",
        ["2 1"],
    ),
    # property assignment on nested values
    ("let r := [1, {'d': [1, 2]}]\nr.2.d.1 := 'x'\nr[2]['e'] := 3\nprint(r)", ["[1, {'d': ['x', 2], 'e': 3}]"]),
    # HogQLX
    ("print(<div a='b'>hi</div>)", ["{'__hx_tag': 'div', 'a': 'b', 'children': ['hi']}"]),
    ("fun Tag(props) { return props.a }\nprint(<Tag a='x' />)", ["x"]),
    # quoted identifiers as property names
    ("let obj := {'a`b': 10, 'with space': 20}\nprint(obj.`a``b`, obj.`with space`)", ["10 20"]),
    # a `return` inside `try` leaves no stale handler behind
    (
        "let r := arrayMap(x -> { try { return x * 2 } catch { return 0 } }, [1, 2])\n"
        "fun fail() { throw Error('late') }\n"
        "try { fail() } catch (e) { print(e.message, r) }",
        ["late [2, 4]"],
    ),
    # f-strings and concat
    ("print(f'{1}', f'a{null}b', 'a' || 1 || null)", ["1 ab a1"]),
]


@pytest.mark.parametrize(("source", "expected"), RUNS)
def test_run(source: str, expected: list[str]) -> None:
    prints, _ = run(source)
    assert prints == expected


def test_top_level_return_value() -> None:
    assert run("return 5 between 1 and 10")[1] is True
    assert run("let a := 1")[1] is None


def test_expression_bytecode_leaves_one_value() -> None:
    result = execute(
        compile_expression("event = '$pageview' and properties.x > 1"), {"event": "$pageview", "properties": {"x": 2}}
    )
    assert result.result is True
    result = execute(compile_expression("[1, x between 1 and 3, 4]"), {"x": 2})
    assert result.result == [1, True, 4]


def test_known_functions_match_the_vm_stl() -> None:
    from app.hog.compiler_functions import BYTECODE_STL_FUNCTIONS, STL_FUNCTIONS
    from app.hog.stl import BYTECODE_STL, STL

    assert set(STL) == STL_FUNCTIONS
    assert set(BYTECODE_STL) <= BYTECODE_STL_FUNCTIONS


def test_cached_results_are_not_shared() -> None:
    first = compile_program("print('cache me')")
    first.append("garbage")
    assert compile_program("print('cache me')") == ["_H", 1, 32, "cache me", 2, "print", 1, 35]
    expression = compile_expression("1 + 1")
    expression.clear()
    assert compile_expression("1 + 1") == ["_H", 1, 33, 1, 33, 1, 6]
