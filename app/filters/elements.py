"""Autocapture elements: the `elements_chain` string, its derived fields and CSS selectors.

An elements chain lists the clicked element first, then its ancestors, separated by `;`:

    a.btn.primary:attr__data-x="1"attr_id="go"href="/x"nth-child="1"nth-of-type="1"text="Go";div:...

Each element is `tag`, then its classes (sorted, `.`-prefixed), then `:` and its attributes
as `key="value"` pairs sorted by key (`"` inside values is escaped as `\\"`). Custom HTML
attributes carry an `attr__` prefix; the element id is `attr_id`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.filters import ast as A
from app.filters.ast import Node

# The derived fields use the formulas of PostHog's materialized `elements_chain_*` columns.
_HREF_RE = re.compile(r'(?::|")href="(.*?)"')
_TEXT_RE = re.compile(r'(?::|")text="(.*?)"')
_ID_RE = re.compile(r'(?::|")attr_id="(.*?)"')
_ELEMENT_RE = re.compile(r"(?:^|;)(a|button|form|input|select|textarea|label)(?:\.|$|:)")

USEFUL_ELEMENTS = ("a", "button", "form", "input", "select", "textarea", "label")


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def elements_chain_href(chain: str) -> str:
    match = _HREF_RE.search(chain)
    return match.group(1) if match else ""


def elements_chain_texts(chain: str) -> list[str]:
    return _distinct(_TEXT_RE.findall(chain))


def elements_chain_ids(chain: str) -> list[str]:
    return _distinct(_ID_RE.findall(chain))


def elements_chain_elements(chain: str) -> list[str]:
    return _distinct(_ELEMENT_RE.findall(chain))


# --- full parser (for callers that need the elements themselves) -----------------------

_SPLIT_CHAIN_RE = re.compile(r'(?:[^\s;"]|"(?:\\.|[^"\\])*")+')
_ATTRIBUTE_RE = re.compile(r'([^=":]+)="((?:\\.|[^"\\])*)"')
_ATTRIBUTES_START_RE = re.compile(r':(?=[a-zA-Z\-_0-9]*=")')


@dataclass
class Element:
    tag_name: str | None = None
    attr_class: list[str] = field(default_factory=list)
    href: str | None = None
    text: str | None = None
    attr_id: str | None = None
    nth_child: int | None = None
    nth_of_type: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)


def _unescape(value: str) -> str:
    return value.replace('\\"', '"')


def parse_elements_chain(chain: str) -> list[Element]:
    """Split an elements chain into elements (clicked element first)."""
    elements: list[Element] = []
    for raw in _SPLIT_CHAIN_RE.findall(chain or ""):
        start = _ATTRIBUTES_START_RE.search(raw)
        head, attrs = (raw[: start.start()], raw[start.end() :]) if start else (raw.rstrip(":"), "")
        element = Element()
        if head:
            tag, _, classes = head.partition(".")
            element.tag_name = tag or None
            element.attr_class = [c for c in classes.split(".") if c] if classes else []
        for key, value in _ATTRIBUTE_RE.findall(attrs):
            value = _unescape(value)
            if key == "href":
                element.href = value
            elif key == "text":
                element.text = value
            elif key == "attr_id":
                element.attr_id = value
            elif key in ("nth-child", "nth-of-type"):
                number = int(value) if value.isdigit() else None
                if key == "nth-child":
                    element.nth_child = number
                else:
                    element.nth_of_type = number
            else:
                element.attributes[key] = value
        elements.append(element)
    return elements


# --- CSS selectors -> regex over elements_chain ---------------------------------------

_QUOTED = r'"(?:\\.|[^"\\])*"'
# Anything inside one element (quoted values may contain `;`).
_IN_ELEMENT = r'(?:[^;"]|' + _QUOTED + r")*"
# One `key="value"` attribute of an element.
_ATTRIBUTE = r'[^=";]*=' + _QUOTED
# One class token (classes have `"` stripped and may contain `:` e.g. tailwind variants).
_CLASS_TOKEN = r'\.[^.;"=]*'

_UNPREFIXED_ATTRIBUTES = {"attr_id", "href", "text", "nth-child", "nth-of-type"}

_COMPOUND_RE = re.compile(
    r"""
    (?P<class>\.(?P<class_name>(?:\\.|[^.\#\[:\s])+))
    | (?P<id>\#(?P<id_name>(?:\\.|[^.\#\[:\s])+))
    | (?P<attr>\[\s*(?P<attr_name>[^=\]\s]+)\s*
        (?:=\s*(?P<attr_value>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^\]]*?)\s*)?\])
    | (?P<pseudo>:(?P<pseudo_name>nth-child|nth-of-type)\((?P<pseudo_arg>[^)]*)\))
    """,
    re.VERBOSE,
)
_TAG_RE = re.compile(r"^(\*|[a-zA-Z][a-zA-Z0-9_-]*)")


class SelectorError(ValueError):
    pass


@dataclass
class SelectorPart:
    tag_name: str | None = None
    classes: list[str] = field(default_factory=list)
    # Attributes keyed by their elements-chain name (`attr_id`, `attr__data-x`, `nth-child`...).
    attributes: dict[str, str] = field(default_factory=dict)
    # True when this part is the direct parent of the part before it (`parent > child`).
    direct_parent: bool = False


def _strip_quotes(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _parse_compound(token: str) -> SelectorPart:
    part = SelectorPart()
    pos = 0
    tag = _TAG_RE.match(token)
    if tag:
        if tag.group(1) != "*":
            part.tag_name = tag.group(1)
        pos = tag.end()
    while pos < len(token):
        match = _COMPOUND_RE.match(token, pos)
        if match is None:
            raise SelectorError(f"Unsupported selector: {token}")
        if match.group("class"):
            part.classes.append(match.group("class_name").replace("\\", ""))
        elif match.group("id"):
            part.attributes["attr_id"] = match.group("id_name").replace("\\", "")
        elif match.group("attr"):
            name = match.group("attr_name")
            value = _strip_quotes(match.group("attr_value") or "")
            key = "attr_id" if name == "id" else name
            if key not in _UNPREFIXED_ATTRIBUTES:
                key = f"attr__{key}"
            part.attributes[key] = value
        else:
            part.attributes[match.group("pseudo_name")] = match.group("pseudo_arg").strip()
        pos = match.end()
    return part


def _split_selector(selector: str) -> list[str]:
    """Split on whitespace outside of `[...]` and quotes; `>` becomes its own token."""
    tokens: list[str] = []
    current: list[str] = []
    quote: str | None = None
    depth = 0
    for char in selector:
        if quote:
            current.append(char)
            if char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        if depth == 0 and (char.isspace() or char == ">"):
            if current:
                tokens.append("".join(current))
                current = []
            if char == ">":
                tokens.append(">")
            continue
        current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def parse_selector(selector: str) -> list[SelectorPart]:
    """Parse a CSS selector into parts, innermost (clicked) element first."""
    tokens = _split_selector(selector.strip())
    parts: list[SelectorPart] = []
    direct = False
    for token in reversed(tokens):
        if token == ">":
            direct = True
            continue
        part = _parse_compound(token)
        part.direct_parent = direct and bool(parts)
        direct = False
        parts.append(part)
    if not parts:
        raise SelectorError(f"Empty selector: {selector!r}")
    return parts


def _escape_chain_value(value: str) -> str:
    # Values in the chain escape `"` as `\"`; accept the selector writing either form.
    return value.replace('\\"', '"').replace('"', '\\"')


def _part_regex(part: SelectorPart) -> str:
    """Match one element from its start up to its last required attribute."""
    regex = re.escape(part.tag_name) if part.tag_name else r'[^.;:"]*'
    for class_name in sorted(part.classes):
        regex += r"(?:" + _CLASS_TOKEN + r")*?\." + re.escape(class_name)
    regex += r"(?:" + _CLASS_TOKEN + r")*"
    if part.attributes:
        regex += ":"
        for key in sorted(part.attributes):
            value = _escape_chain_value(part.attributes[key])
            regex += r"(?:" + _ATTRIBUTE + r")*?" + re.escape(key) + '="' + re.escape(value) + '"'
    return regex


def _rest_of_element(part: SelectorPart) -> str:
    """Consume the rest of an element matched by `_part_regex`, up to its `;`."""
    if part.attributes:
        return _IN_ELEMENT + ";"
    return r"(?::" + _IN_ELEMENT + r")?;"


def selector_regex(selector: str) -> str:
    """A regex (RE2-compatible, no look-arounds) matching chains where an element matches."""
    parts = parse_selector(selector)
    regex = r"(?:^|;)" + _part_regex(parts[0])
    previous = parts[0]
    for part in parts[1:]:
        # Finish the current element, then skip whole elements unless this is a direct parent.
        regex += _rest_of_element(previous)
        if not part.direct_parent:
            regex += r"(?:" + _IN_ELEMENT + r";)*"
        regex += _part_regex(part)
        previous = part
    if not previous.attributes:
        # The tag or last class must end here.
        regex += r"(?::|;|$)"
    return regex


def tag_name_regex(tag_name: str) -> str:
    return r"(^|;)" + re.escape(tag_name) + r"(\.|$|;|:)"


def selector_to_expr(selector: str) -> Node:
    return A.compare(A.REGEX, A.field("elements_chain"), A.constant(selector_regex(selector)))


def tag_name_to_expr(tag_name: str) -> Node:
    return A.compare(A.REGEX, A.field("elements_chain"), A.constant(tag_name_regex(tag_name)))


def derived_fields(chain: Any) -> dict[str, Any]:
    """The four `elements_chain_*` globals for a chain (empty values when there is none)."""
    if not chain or not isinstance(chain, str):
        return {
            "elements_chain_href": "",
            "elements_chain_texts": [],
            "elements_chain_ids": [],
            "elements_chain_elements": [],
        }
    return {
        "elements_chain_href": elements_chain_href(chain),
        "elements_chain_texts": elements_chain_texts(chain),
        "elements_chain_ids": elements_chain_ids(chain),
        "elements_chain_elements": elements_chain_elements(chain),
    }
