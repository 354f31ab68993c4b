"""Hog string templates for function inputs (PostHog's `generate_template_bytecode`)."""

from __future__ import annotations

from typing import Any

import pytest

from app.hog.parser import HogCompileError, HogSyntaxError
from app.hog.templates import compile_template, compile_template_string


def test_plain_text() -> None:
    assert compile_template("https://example.com") == ["_H", 1, 32, "https://example.com"]


def test_lone_placeholder_keeps_its_type() -> None:
    assert compile_template("{person.id}") == ["_H", 1, 32, "id", 32, "person", 1, 2]
    assert compile_template("{event.properties}") == ["_H", 1, 32, "properties", 32, "event", 1, 2]
    assert compile_template("{1}") == ["_H", 1, 33, 1]


def test_text_and_placeholders_concat() -> None:
    assert compile_template("Hello {person.properties.name}") == [
        "_H", 1, 32, "Hello ", 32, "name", 32, "properties", 32, "person", 1, 3, 2, "concat", 2,
    ]  # fmt: skip
    assert compile_template("{a}-{b}") == ["_H", 1, 32, "a", 1, 1, 32, "-", 32, "b", 1, 1, 2, "concat", 3]


def test_quotes_newlines_and_escaped_braces() -> None:
    assert compile_template("it's") == ["_H", 1, 32, "it's"]
    assert compile_template("a\nb") == ["_H", 1, 32, "a\nb"]
    assert compile_template("\\{not a placeholder}") == ["_H", 1, 32, "{not a placeholder}"]
    assert compile_template("") == ["_H", 1, 32, ""]


def test_expressions_inside_placeholders() -> None:
    assert compile_template("{event.properties['foo-bar']}") == [
        "_H", 1, 32, "properties", 32, "event", 1, 2, 32, "foo-bar", 45,
    ]  # fmt: skip
    assert compile_template("{upper(event.event)}") == ["_H", 1, 32, "event", 32, "event", 1, 2, 2, "upper", 1]
    assert compile_template("{a ?? 'x'}") == ["_H", 1, 32, "a", 1, 1, 47, 3, 35, 32, "x"]


def test_dicts_and_lists_are_mirrored() -> None:
    value: dict[str, Any] = {
        "url": "https://example.com/{event.uuid}",
        "headers": {"Content-Type": "application/json"},
        "items": ["{person.id}", 5, None, True, 1.5],
        "count": 3,
    }
    assert compile_template(value) == {
        "url": ["_H", 1, 32, "https://example.com/", 32, "uuid", 32, "event", 1, 2, 2, "concat", 2],
        "headers": {"Content-Type": ["_H", 1, 32, "application/json"]},
        "items": [["_H", 1, 32, "id", 32, "person", 1, 2], 5, None, True, 1.5],
        "count": 3,
    }


@pytest.mark.parametrize("value", [None, True, False, 0, 12, 1.5])
def test_non_strings_are_kept(value: Any) -> None:
    assert compile_template(value) is value


def test_hyphenated_path_is_rejected_with_a_hint() -> None:
    with pytest.raises(HogCompileError) as info:
        compile_template("Hi {event.properties.foo-bar}")
    message = str(info.value)
    assert "event.properties['foo-bar']" in message
    assert (info.value.line, info.value.column) == (1, 5)


def test_hyphenated_path_inside_nested_values() -> None:
    with pytest.raises(HogCompileError, match=r"person\.properties\['first-name'\]\.x"):
        compile_template({"body": ["ok", "{person.properties.first-name.x}"]})


def test_real_subtraction_is_allowed() -> None:
    assert compile_template("{a - b}") == ["_H", 1, 32, "b", 1, 1, 32, "a", 1, 1, 7]
    assert compile_template("{a-b}") == ["_H", 1, 32, "b", 1, 1, 32, "a", 1, 1, 7]


def test_double_curly_braces_get_a_hint() -> None:
    with pytest.raises(HogCompileError) as info:
        compile_template("Hello {{ person.properties.name }}")
    assert "single curly braces" in str(info.value)
    assert "{person.properties.name}" in str(info.value)


def test_syntax_error_position_is_relative_to_the_template() -> None:
    with pytest.raises(HogSyntaxError) as info:
        compile_template_string("line one\nHello {name")
    assert (info.value.line, info.value.column) == (2, 12)


def test_unknown_function() -> None:
    with pytest.raises(HogCompileError, match="Hog function `nope` is not implemented"):
        compile_template("{nope()}")
    assert compile_template("{nope()}", functions=["nope"]) == ["_H", 1, 2, "nope", 0]


def test_cached_results_are_not_shared() -> None:
    first = compile_template("Hi {person.id}")
    first.clear()
    assert compile_template("Hi {person.id}") == ["_H", 1, 32, "Hi ", 32, "id", 32, "person", 1, 2, 2, "concat", 2]


GLOBALS = {
    "event": {"event": "$pageview", "properties": {"$browser": "Chrome", "foo-bar": 1, "n": 2}},
    "person": {"id": "p1", "properties": {"name": "Ann"}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("https://example.com", "https://example.com"),
        ("Hello {person.properties.name}!", "Hello Ann!"),
        ("{person.id}", "p1"),
        ("{event.properties}", {"$browser": "Chrome", "foo-bar": 1, "n": 2}),
        ("{event.properties.n}", 2),
        ("{event.properties['foo-bar']}", 1),
        ("{event.properties.missing}", None),
        ("n={event.properties.n}, missing={event.properties.missing}", "n=2, missing="),
        ("{upper(person.properties.name)} {event.properties.n + 1}", "ANN 3"),
        ("it's \\{literal}", "it's {literal}"),
    ],
)
def test_rendering_with_the_vm(template: str, expected: Any) -> None:
    from app.hog import execute, from_hog_value

    result = execute(compile_template(template), GLOBALS)
    assert result.finished
    assert from_hog_value(result.result) == expected
