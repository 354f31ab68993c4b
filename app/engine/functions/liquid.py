"""A small Liquid subset for inputs stored with `templating: "liquid"` (PostHog's email and SMS editors).

Supported: output tags `{{ path }}` (`person.properties.email`, `event.properties['$browser']`,
`items[0]`, string and number literals) with filters `default`, `upcase`, `downcase`, `capitalize`,
`strip`, `escape`, `url_encode`, `append`, `prepend`, `replace`, `size`. Logic tags (`{% if %}`...)
are refused with a clear error instead of being sent as raw text.
"""

import html
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from app.hog.regex import compile_pattern

# On RE2: the text is a client's, and Python's `re` needs quadratic time for these lazy patterns on
# `{{` repeated (32 KB: 80 s); RE2 stays linear.
_OUTPUT = compile_pattern(r"(?s)\{\{-?\s*(.*?)\s*-?\}\}", False, True)
_TAG = compile_pattern(r"(?s)\{%.*?%\}")
_PATH_PART = re.compile(r"""\.?([A-Za-z_$][\w$-]*)|\[\s*(?:'([^']*)'|"([^"]*)"|(-?\d+))\s*\]""")
_NUMBER = re.compile(r"-?\d+(\.\d+)?$")


class LiquidError(Exception):
    pass


def render_liquid(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside `value` (dicts and lists recursively)."""
    if isinstance(value, str):
        return render_string(value, context)
    if isinstance(value, dict):
        return {key: render_liquid(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_liquid(item, context) for item in value]
    return value


def render_string(template: str, context: dict[str, Any]) -> str:
    tag = _TAG.search(template)
    if tag:
        raise LiquidError(f"Liquid tag {tag.group(0)!r} is not supported; use Hog templating for logic")
    return _OUTPUT.sub(lambda match: _to_text(_evaluate(match.group(1), context)), template)


def _evaluate(expression: str, context: dict[str, Any]) -> Any:
    head, *filters = _split(expression, "|")
    value = _operand(head, context)
    for spec in filters:
        name, _, raw_args = spec.partition(":")
        args = [_operand(arg, context) for arg in _split(raw_args, ",")] if raw_args.strip() else []
        value = _apply(name.strip(), value, args)
    return value


def _split(text: str, separator: str) -> list[str]:
    """Split on `separator` outside quotes."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == separator:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def _operand(text: str, context: dict[str, Any]) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if _NUMBER.match(text):
        return float(text) if "." in text else int(text)
    if text in ("true", "false"):
        return text == "true"
    if text in ("nil", "null", ""):
        return None
    return _lookup(text, context)


def _lookup(path: str, context: dict[str, Any]) -> Any:
    value: Any = context
    position = 0
    while position < len(path):
        match = _PATH_PART.match(path, position)
        if match is None:
            raise LiquidError(f"Invalid Liquid expression: {path!r}")
        position = match.end()
        name, single, double, index = match.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and -len(value) <= int(index) < len(value) else None
        else:
            key = name if name is not None else (single if single is not None else double)
            value = value.get(key) if isinstance(value, dict) else None
    return value


def _apply(name: str, value: Any, args: list[Any]) -> Any:
    if name == "default":
        return value if value not in (None, "", False, [], {}) else (args[0] if args else "")
    if name == "size":
        return len(value) if isinstance(value, str | list | dict) else 0
    text = _to_text(value)
    simple: dict[str, Callable[[str], str]] = {
        "upcase": str.upper,
        "downcase": str.lower,
        "capitalize": str.capitalize,
        "strip": str.strip,
        "escape": html.escape,
        "url_encode": quote_plus,
    }
    if name in simple:
        return simple[name](text)
    if name == "append":
        return text + _to_text(args[0] if args else "")
    if name == "prepend":
        return _to_text(args[0] if args else "") + text
    if name == "replace":
        return text.replace(_to_text(args[0] if args else ""), _to_text(args[1] if len(args) > 1 else ""))
    raise LiquidError(f"Liquid filter {name!r} is not supported")


def _to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
