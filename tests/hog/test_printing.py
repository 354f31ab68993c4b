"""print()/toString() formatting (hog.md §3.10)."""

from __future__ import annotations

from typing import Any

import pytest

from app.hog.printing import escape_identifier, print_arg, print_hog_value, to_string


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (1, "1"),
        (1.5, "1.5"),
        (1.0, "1.0"),
        ("it's\n", "'it\\'s\\n'"),
        ("\\ \t \b \f \r \0 \a \v", "'\\\\ \\t \\b \\f \\r \\0 \\a \\v'"),
        ([1, "a", [None]], "[1, 'a', [null]]"),
        ((), "tuple()"),
        ((1,), "tuple(1)"),
        ((1, (2, 3)), "(1, (2, 3))"),
        ({"k": 1, 3: "v", (1, 2): []}, "{'k': 1, 3: 'v', (1, 2): []}"),
        ({"__hogDate__": True, "year": 2024, "month": 12, "day": 19}, "Date(2024, 12, 19)"),
        ({"__hogDateTime__": True, "dt": 1734480000, "zone": "UTC"}, "DateTime(1734480000.0, 'UTC')"),
        ({"__hogError__": True, "type": "Error", "message": "m", "payload": None}, "Error('m')"),
        ({"__hogError__": True, "type": "E", "message": "m", "payload": {"a": 1}}, "E('m', {'a': 1})"),
        ({"__hogInterval__": True, "value": 5, "unit": "day"}, "{'__hogInterval__': true, 'value': 5, 'unit': 'day'}"),
    ],
)
def test_repr(value: Any, expected: str) -> None:
    assert print_hog_value(value) == expected


def test_cycles_print_as_null_but_shared_children_print_fully() -> None:
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    assert print_hog_value(cyclic) == "{'a': 1, 'self': null}"
    leaf = [1]
    assert print_hog_value([leaf, leaf]) == "[[1], [1]]"


def test_top_level_strings_are_raw() -> None:
    assert print_arg("a'b") == "a'b"
    assert print_arg(["a'b"]) == "['a\\'b']"


def test_to_string() -> None:
    assert to_string("x") == "x"
    assert to_string(None) == "null"
    assert to_string(False) == "false"
    assert to_string({"__hogDate__": True, "year": 2024, "month": 1, "day": 2}) == "2024-01-02"
    assert to_string({"__hogDateTime__": True, "dt": 1234334543.123, "zone": "UTC"}) == "2009-02-11T06:42:23.123Z"


def test_escape_identifier() -> None:
    assert escape_identifier("name_1$") == "name_1$"
    assert escape_identifier("with space") == "`with space`"
    assert escape_identifier("a`b") == "`a``b`"
