"""The Liquid subset used by inputs stored with `templating: "liquid"`."""

import time

import pytest

from app.engine.functions.liquid import LiquidError, render_liquid

CONTEXT = {
    "person": {"properties": {"email": "ada@example.com", "name": "ada", "$browser": "Firefox", "tags": ["a", "b"]}},
    "event": {"event": "signed up", "properties": {"n": 3}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{ person.properties.name }}", "Hi ada"),
        ("{{person.properties.name|capitalize}}", "Ada"),
        ("{{ person.properties['$browser'] | downcase }}", "firefox"),
        ("{{ person.properties.tags[1] }}", "b"),
        ("{{ person.properties.missing | default: 'friend' }}", "friend"),
        ("{{ event.event | url_encode }}", "signed+up"),
        ("{{ event.properties.n }} items", "3 items"),
        ("{{ person.properties.tags | size }}", "2"),
        ("{{ 'x' | append: person.properties.name | upcase }}", "XADA"),
        ("<b>{{ '<i>' | escape }}</b>", "<b>&lt;i&gt;</b>"),
        ("{{ nothing.here }}", ""),
        ("no tags", "no tags"),
    ],
)
def test_outputs_and_filters(template: str, expected: str) -> None:
    assert render_liquid(template, CONTEXT) == expected


def test_nested_values_render_every_string() -> None:
    value = {"to": {"email": "{{ person.properties.email }}"}, "list": ["{{ event.event }}", 1]}
    assert render_liquid(value, CONTEXT) == {"to": {"email": "ada@example.com"}, "list": ["signed up", 1]}


@pytest.mark.parametrize("template", ["{% if person %}x{% endif %}", "{{ person | nope }}"])
def test_unsupported_syntax_is_refused(template: str) -> None:
    with pytest.raises(LiquidError):
        render_liquid(template, CONTEXT)


def test_hostile_text_renders_in_linear_time() -> None:
    # 80 s on Python's `re` (lazy `.*?` retried from every `{{`); milliseconds on RE2.
    started = time.perf_counter()
    assert render_liquid("{{" * 100_000, {}) == "{{" * 100_000
    with pytest.raises(LiquidError):
        render_liquid("{%" * 100_000 + "%}", {})
    assert time.perf_counter() - started < 2
