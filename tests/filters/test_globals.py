"""Filter globals and the elements-chain derived fields."""

from __future__ import annotations

import re

import pytest

from app.filters import build_filter_globals
from app.filters.elements import (
    derived_fields,
    parse_elements_chain,
    parse_selector,
    selector_regex,
)
from tests.filters.conftest import ELEMENTS_CHAIN, SAMPLE_EVENT, SAMPLE_GROUPS, SAMPLE_PERSON, SAMPLE_VARIABLES


def test_globals_shape() -> None:
    g = build_filter_globals(SAMPLE_EVENT, SAMPLE_PERSON, SAMPLE_GROUPS, SAMPLE_VARIABLES)
    assert g["event"] == "$pageview"
    assert g["uuid"] == SAMPLE_EVENT["uuid"]
    assert g["distinct_id"] == "user-1"
    assert g["timestamp"] == "2024-06-15T12:00:00Z"
    assert g["properties"]["$browser"] == "Chrome"
    assert g["elements_chain"] == ELEMENTS_CHAIN
    assert g["person"]["id"] == SAMPLE_PERSON["id"]
    assert g["person"]["properties"] == SAMPLE_PERSON["properties"]
    assert g["pdi"] == {
        "distinct_id": "user-1",
        "person_id": SAMPLE_PERSON["id"],
        "person": {"id": SAMPLE_PERSON["id"], "properties": SAMPLE_PERSON["properties"]},
    }
    assert g["group_0"] == {"properties": {"name": "Acme", "employees": 120}}
    assert g["$group_0"] == "acme"
    assert g["group_1"] == {"properties": {}}
    assert g["$group_1"] is None
    assert g["group_2"] == {"properties": {"tier": "gold"}}
    assert g["$group_2"] == "p-9"
    assert g["variables"] == SAMPLE_VARIABLES


def test_globals_without_person_or_groups() -> None:
    g = build_filter_globals({"event": "x", "properties": {"$group_1": "k"}}, None)
    assert g["person"] is None
    assert g["pdi"] is None
    assert g["variables"] == {}
    assert g["$group_1"] == "k"
    assert all(g[f"group_{i}"] == {"properties": {}} for i in range(5))
    assert g["elements_chain_href"] == ""
    assert g["elements_chain_texts"] == []


def test_elements_chain_from_properties() -> None:
    g = build_filter_globals({"event": "$autocapture", "properties": {"$elements_chain": 'a:href="/x"'}}, None)
    assert g["elements_chain"] == 'a:href="/x"'
    assert g["elements_chain_href"] == "/x"


def test_derived_fields() -> None:
    assert derived_fields(ELEMENTS_CHAIN) == {
        "elements_chain_href": "/pricing",
        "elements_chain_texts": ["Sign up now", "Pricing"],
        "elements_chain_ids": ["signup-btn", "signup"],
        "elements_chain_elements": ["button", "form", "a"],
    }


def test_parse_elements_chain() -> None:
    elements = parse_elements_chain(ELEMENTS_CHAIN)
    assert [e.tag_name for e in elements] == ["button", "form", "a", "div", "body"]
    button = elements[0]
    assert button.attr_class == ["btn", "primary"]
    assert button.attr_id == "signup-btn"
    assert button.text == "Sign up now"
    assert button.nth_child == 1
    assert button.attributes == {"attr__data-attr": "signup"}
    assert elements[2].href == "/pricing"
    assert elements[3].attr_class == ["container", "main"]


def test_parse_chain_with_escaped_quotes_and_semicolons() -> None:
    chain = 'span:text="say \\"hi\\"; bye"nth-child="1";div:nth-child="1"'
    elements = parse_elements_chain(chain)
    assert [e.tag_name for e in elements] == ["span", "div"]
    assert elements[0].text == 'say "hi"; bye'


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("button", True),
        ("butto", False),
        ("button.primary", True),
        ("button.primary.btn", True),
        ("button.secondary", False),
        (".signup-form", True),
        ("form > button", True),
        ("div > button", False),
        ("div button", True),
        ("body div form button", True),
        ("div > a", True),
        ("#signup-btn", True),
        ("[id='signup-btn']", True),
        ('[data-attr="signup"]', True),
        ('button[data-attr="other"]', False),
        ("button:nth-child(1)", True),
        ("button:nth-child(2)", False),
        ("*", True),
        ("a > * > button", True),
        ("div > * > button", False),
        ("table", False),
    ],
)
def test_selector_regex(selector: str, expected: bool) -> None:
    assert bool(re.search(selector_regex(selector), ELEMENTS_CHAIN)) is expected


def test_selector_parts_are_innermost_first() -> None:
    parts = parse_selector("div.container > form  button#go")
    assert [p.tag_name for p in parts] == ["button", "form", "div"]
    assert parts[0].attributes == {"attr_id": "go"}
    assert [p.direct_parent for p in parts] == [False, False, True]


def test_globals_accept_json_text_and_datetimes() -> None:
    from datetime import UTC, datetime

    g = build_filter_globals(
        {"event": "x", "properties": '{"a": 1}', "timestamp": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)},
        {"uuid": "p1", "properties": '{"email": "a@b.c"}'},
        [{"key": "acme", "index": 1, "properties": '{"n": 2}'}],
    )
    assert g["properties"] == {"a": 1}
    assert g["timestamp"] == "2024-01-02T03:04:05+00:00"
    assert g["person"]["id"] == "p1"
    assert g["person"]["properties"] == {"email": "a@b.c"}
    assert g["group_1"] == {"properties": {"n": 2}}
    assert g["$group_1"] == "acme"
