"""The scan before the C++ parser, and the parse processes that absorb what slips through."""

from __future__ import annotations

import os
import signal
import time

import pytest

from app.hog import parse_pool
from app.hog.budget import time_budget
from app.hog.guard import HARD, SMALL, scan
from app.hog.parser import HogSourceLimitError, HogSyntaxError, parse_expr, parse_program, parse_template
from app.hog.templates import compile_template


@pytest.mark.parametrize(
    ("source", "template", "kind"),
    [
        ("(" * 33 + "1" + ")" * 33, False, "depth"),
        ("[" * 33 + "1" + "]" * 33, False, "depth"),
        ("{'a': " * 33 + "1" + "}" * 33, False, "depth"),
        ("{" + "f'{" * 17 + "1" + "}'" * 17 + "}", True, "depth"),
        ("{" + "not " * 33 + "1}", True, "depth"),
        ("{" + "x -> " * 33 + "1}", True, "depth"),
        ("{" + "true ? 1 : " * 33 + "1}", True, "depth"),
        ("{event" + ".a" * 33 + "}", True, "chain"),
        ("{event" + "[1]" * 33 + "}", True, "chain"),
        ("{event" + "?.a" * 33 + "}", True, "chain"),
        ("{" + "+".join(["1"] * 130) + "}", True, "operators"),
        ("{" + " and ".join(["true"] * 130) + "}", True, "operators"),
        ("{a.b}" * 1600, True, "tokens"),
        ("x" * (HARD.size + 1), True, "size"),
    ],
)
def test_each_construct_is_bounded(source: str, template: bool, kind: str) -> None:
    assert scan(source, template=template).violation == kind


@pytest.mark.parametrize(
    "source",
    [
        "Hello {person.properties.name}! You did {event.event}",
        "{f(a ? 1 : 2, b ? 3 : 4, c ? 5 : 6)}",
        "{[" + ", ".join(["x ? 1 : 2"] * 40) + "]}",
        "{(" * 10 + "1" + ")}" * 10,
        "it's {x} \\{ a literal brace, and a string in a placeholder: {'(((((((((((((((((((((((((((((((((('}",
        "{event.properties.$set.plan}: " + "{a} + {b}, " * 40,
    ],
)
def test_ordinary_templates_pass(source: str) -> None:
    assert scan(source, template=True).violation is None


def test_separate_statements_do_not_add_up() -> None:
    program = "\n".join(f"print('{i}: ' || formatDateTime(dt, '%{i}'))" for i in range(200))
    assert scan(program).violation is None
    assert scan(program).chain <= 2


def test_text_strings_and_comments_do_not_count() -> None:
    many = "(" * 100
    assert scan(f"print('{many}')\n// {many}\n/* {many} */\nprint(`{many}`)").violation is None
    assert scan(f":-( {many} {{person.name}} {many}", template=True).violation is None


def test_small_sources_are_parsed_in_process_and_big_ones_are_not() -> None:
    assert scan("Hi {person.properties.name}", template=True).is_small
    assert not scan("{a.b}" * (SMALL.tokens // 2 + 1), template=True).is_small


def test_refusals_carry_the_position_and_a_clear_message() -> None:
    with pytest.raises(HogSourceLimitError, match="nested too deeply") as info:
        parse_program("print(" + "f(" * 40 + "1" + ")" * 40 + ")")
    assert (info.value.line, info.value.column) == (1, 6 + 2 * 32)
    with pytest.raises(HogSourceLimitError, match="property or index accesses"):
        parse_template("{event" + ".a" * 700 + "}")
    with pytest.raises(HogSourceLimitError, match="operators in a row"):
        parse_expr("+".join(["1"] * 15_000))


def test_issue_crash_forms_are_refused_fast() -> None:
    forms = [
        "{" + "x -> " * 10_000 + "1}",
        "{" + "f'{" * 6_400 + "1" + "}'" * 6_400 + "}",
        "{" + "true ? 1 : " * 4_900 + "1}",
        "{event" + "[1]" * 9_500 + "}",
        "{" + "+".join(["1"] * 15_000) + "}",
    ]
    for form in forms:
        started = time.perf_counter()
        with pytest.raises(HogSourceLimitError):
            compile_template(form)
        assert time.perf_counter() - started < 0.5


def test_big_sources_parse_in_a_process_with_the_same_result() -> None:
    source = "Dear {person.properties.name}, " + "{event.properties.a} " * (SMALL.tokens // 2 + 1)
    assert not scan(source, template=True).is_small
    assert compile_template(source)[0] == "_H"


def test_a_dead_parse_process_costs_one_call_and_the_pool_comes_back() -> None:
    big = "{a.b} " * (SMALL.tokens // 2 + 1)
    parse_template(big)  # starts the pool
    pool = parse_pool._get_pool()
    processes = list(getattr(pool, "_processes", {}).values())
    assert processes
    for process in processes:
        os.kill(process.pid, signal.SIGKILL)
    for process in processes:
        process.join(timeout=10)
    # The pool that lost its processes answers one failure (or is noticed as broken at once)...
    try:
        parse_template(big + " ")
    except HogSyntaxError as error:
        assert "crashed" in str(error)
    # ...and the next call gets a fresh pool.
    assert parse_template(big + "  ")["node"] == "Call"


def test_a_spent_budget_stops_parsing() -> None:
    with time_budget(-1), pytest.raises(HogSyntaxError, match="time budget"):
        parse_template("{a}")
