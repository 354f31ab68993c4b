"""The `hogql_parser` adapter: JSON ASTs, syntax errors with positions, stand-in `posthog` modules."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.hog.parser import (
    HogCompileError,
    HogSyntaxError,
    parse_expr,
    parse_program,
    parse_template,
    position_of,
)

REPO = Path(__file__).resolve().parents[2]


def strip(node: object) -> object:
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in ("start", "end")}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def test_parse_program_returns_program_node() -> None:
    ast = parse_program("let a := 1\nprint(a)")
    assert ast["node"] == "Program"
    first, second = ast["declarations"]
    assert strip(first) == {"node": "VariableDeclaration", "name": "a", "expr": {"node": "Constant", "value": 1}}
    assert second["node"] == "ExprStatement"
    assert second["expr"]["name"] == "print"
    # positions are kept: line is 1-based, offset counts code points
    assert second["start"]["offset"] == 11
    assert second["start"]["line"] == 2


def test_parse_empty_program() -> None:
    assert parse_program("")["declarations"] == []


def test_parse_expr() -> None:
    assert strip(parse_expr("event = '$pageview'")) == {
        "node": "CompareOperation",
        "op": "==",
        "left": {"node": "Field", "chain": ["event"]},
        "right": {"node": "Constant", "value": "$pageview"},
    }


def test_parse_template_shapes() -> None:
    assert strip(parse_template("plain text")) == {"node": "Constant", "value": "plain text"}
    assert strip(parse_template("{person.id}")) == {"node": "Field", "chain": ["person", "id"]}
    assert strip(parse_template("Hi {name}!")) == {
        "node": "Call",
        "name": "concat",
        "args": [
            {"node": "Constant", "value": "Hi "},
            {"node": "Field", "chain": ["name"]},
            {"node": "Constant", "value": "!"},
        ],
    }
    # single quotes need no escaping, `\{` is a literal brace
    assert strip(parse_template("it's \\{not} a {x}"))["args"][0] == {  # type: ignore[index]
        "node": "Constant",
        "value": "it's {not} a ",
    }
    assert strip(parse_template("")) == {"node": "Constant", "value": ""}


@pytest.mark.parametrize(
    ("source", "line", "column"),
    [
        ("1 +", 1, 4),
        ("let x := 1\n\n   @", 3, 4),
        ("let a := 1\nlet b := (2 +\n", 3, 1),
        ("print('😀😀') )", 1, 13),  # columns count code points, not bytes or UTF-16 units
        ("let x := 'abc", 1, 10),
    ],
)
def test_program_syntax_errors_carry_line_and_column(source: str, line: int, column: int) -> None:
    with pytest.raises(HogSyntaxError) as info:
        parse_program(source)
    error = info.value
    assert (error.line, error.column) == (line, column)
    assert error.message
    assert f"(line {line}, column {column})" in str(error)
    assert isinstance(error, HogCompileError)


def test_expr_syntax_error_position() -> None:
    with pytest.raises(HogSyntaxError) as info:
        parse_expr("(1 + 2")
    assert (info.value.line, info.value.column) == (1, 7)


def test_long_expected_token_lists_are_shortened() -> None:
    with pytest.raises(HogSyntaxError) as info:
        parse_expr("a == ")
    assert info.value.message == "mismatched input '<EOF>': unexpected end of input"
    assert (info.value.line, info.value.column) == (1, 6)


def test_template_syntax_error_position_is_relative_to_the_template() -> None:
    with pytest.raises(HogSyntaxError) as info:
        parse_template("line one\nHello {name")
    assert (info.value.line, info.value.column) == (2, 12)


def test_unexpected_character_message() -> None:
    with pytest.raises(HogSyntaxError, match="Unexpected character"):
        parse_program("let x := 1 @ 2")


@pytest.mark.parametrize(
    ("offset", "expected"),
    [(0, (1, 1)), (3, (1, 4)), (4, (2, 1)), (6, (2, 3)), (100, (2, 3))],
)
def test_position_of(offset: int, expected: tuple[int, int]) -> None:
    assert position_of("abc\nde", offset) == expected


def _run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_with_posthog_sdk_imported_first() -> None:
    out = _run_python(
        """
        import sys
        import posthog
        sdk = sys.modules["posthog"]
        from app.hog.parser import parse_expr
        assert parse_expr("1 + 2")["node"] == "ArithmeticOperation"
        assert sys.modules["posthog"] is sdk, "the SDK must keep owning `posthog`"
        assert hasattr(sdk, "capture")
        for name in ("posthog.hogql", "posthog.hogql.ast", "posthog.hogql.errors", "posthog.hogql.base"):
            assert name not in sys.modules, name
        print("ok")
        """
    )
    assert out == "ok"


def test_import_before_posthog_sdk() -> None:
    out = _run_python(
        """
        import sys
        from app.hog.parser import parse_program
        assert parse_program("let a := 1")["node"] == "Program"
        for name in ("posthog", "posthog.hogql", "posthog.hogql.ast", "posthog.hogql.errors", "posthog.hogql.base"):
            assert name not in sys.modules, name
        import posthog
        assert hasattr(posthog, "capture"), "the real SDK must import after the parser"
        assert parse_program("let b := 2")["node"] == "Program"
        print("ok")
        """
    )
    assert out == "ok"


def test_deeply_nested_parentheses_are_refused_quickly() -> None:
    # The ANTLR parser needs seconds for ~40 nested calls; the adapter refuses them up front.
    source = "print(" + "f(" * 40 + "1" + ")" * 40 + ")"
    with pytest.raises(HogSyntaxError, match="nested too deeply") as info:
        parse_program(source)
    assert (info.value.line, info.value.column) == (1, 6 + 2 * 32)  # the 33rd "("
    with pytest.raises(HogSyntaxError, match="nested too deeply"):
        parse_expr("(" * 200 + "1" + ")" * 200)
    with pytest.raises(HogSyntaxError, match="nested too deeply"):
        parse_template("value: {" + "(" * 40 + "1" + ")" * 40 + "}")


def test_parentheses_in_strings_comments_and_template_text_do_not_count() -> None:
    many = "(" * 40
    assert parse_program(f"print('{many}')\n// {many}\n/* {many} */\nprint(`{many}`)")["node"] == "Program"
    assert parse_program(f"print(f'{many} {{1}} {many}')")["node"] == "Program"
    assert parse_template(f":-( {many} {{person.name}} {many}")["node"] == "Call"
    assert parse_expr("(" * 10 + "1" + ")" * 10)["node"] == "Constant"
