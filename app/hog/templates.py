"""Hog string templates: PostHog function inputs such as `"Hello {person.properties.name}"`.

`compile_template(value)` mirrors PostHog's `generate_template_bytecode`:

* a string is parsed as a Hog f-string template (literal text plus `{expr}` placeholders, `\\{` is a
  literal brace) and compiled as an expression: plain text -> `["_H", 1, 32, "text"]`, a lone
  `{expr}` -> just that expression (it keeps its type: `"{event.properties}"` renders a dict), text
  mixed with placeholders -> `concat(...)`;
* dicts and lists are mirrored recursively, each string leaf replaced by its bytecode;
* everything else (numbers, booleans, null) is returned unchanged.

Running a string's bytecode with the invocation globals (`event`, `person`, `inputs`, ...) yields the
rendered value.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from app.hog.compiler import compile_ast
from app.hog.parser import HogCompileError, parse_template, position_of

__all__ = ["HogCompileError", "compile_template", "compile_template_string"]

# The template parser sees `F'` + text: node offsets are this much further than in the text.
_SHIFT = 2


def compile_template(value: Any, *, functions: Iterable[str] = ()) -> Any:
    """Compile a templated input value (string, or dict/list holding strings) to bytecode."""
    functions = tuple(functions)
    if isinstance(value, str):
        return compile_template_string(value, functions=functions)
    if isinstance(value, dict):
        return {key: compile_template(item, functions=functions) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [compile_template(item, functions=functions) for item in value]
    return value


def compile_template_string(text: str, *, functions: Iterable[str] = ()) -> list[Any]:
    """Compile one template string to expression bytecode (`["_H", 1, ...]`)."""
    return list(_compile_cached(text, frozenset(functions)))


@lru_cache(maxsize=2048)
def _compile_cached(text: str, functions: frozenset[str]) -> tuple[Any, ...]:
    node = parse_template(text)
    _check(node, text)
    return tuple(compile_ast(node, mode="expr", functions=functions, source=text, source_shift=_SHIFT))


# ---------------------------------------------------------------------------------------------------
# Friendly errors for common mistakes
# ---------------------------------------------------------------------------------------------------


def _offset(node: dict[str, Any], key: str) -> int | None:
    pos = node.get(key)
    if isinstance(pos, dict) and isinstance(pos.get("offset"), int):
        return int(pos["offset"]) - _SHIFT
    return None


def _error(message: str, node: dict[str, Any], text: str) -> HogCompileError:
    start = _offset(node, "start")
    if start is None:
        return HogCompileError(message)
    line, column = position_of(text, start)
    return HogCompileError(message, line, column)


def _check(node: Any, text: str) -> None:
    """Reject `{{ x }}` and hyphenated property paths, with a hint each."""
    if isinstance(node, list):
        for item in node:
            _check(item, text)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("node")
    if kind == "Placeholder":
        inner = _source(node.get("expr"), text) or "expression"
        raise _error(
            "Double curly braces are not supported in Hog templates. "
            f"Use single curly braces: {{{inner}}} instead of {{{{{inner}}}}}",
            node,
            text,
        )
    if kind == "ArithmeticOperation" and _is_hyphenated_path(node, text):
        path = _source(node, text) or ""
        raise _error(
            f"Property names with hyphens must use brackets: `{path}` is parsed as a subtraction. "
            f"Use {_bracket_hint(path)} instead",
            node,
            text,
        )
    for key, value in node.items():
        if key not in ("start", "end"):
            _check(value, text)


def _source(node: Any, text: str) -> str | None:
    if not isinstance(node, dict):
        return None
    start, end = _offset(node, "start"), _offset(node, "end")
    if start is None or end is None:
        return None
    return text[start:end].strip()


def _is_hyphenated_path(node: dict[str, Any], text: str) -> bool:
    """`a.b.foo-bar`: a subtraction written without spaces whose left side is a property path."""
    if node.get("op") != "-":
        return False
    left, right = node.get("left"), node.get("right")
    if not isinstance(left, dict) or not isinstance(right, dict) or right.get("node") != "Field":
        return False
    left_end, right_start = _offset(left, "end"), _offset(right, "start")
    if left_end is None or right_start is None or text[left_end:right_start] != "-":
        return False
    if left.get("node") == "Field":
        return len(left.get("chain") or []) >= 2
    return left.get("node") == "ArithmeticOperation" and _is_hyphenated_path(left, text)


def _bracket_hint(path: str) -> str:
    """`event.properties.foo-bar.baz` -> `event.properties['foo-bar'].baz`."""
    hyphen = path.find("-")
    dot = path.rfind(".", 0, hyphen)
    if hyphen < 0 or dot < 0:
        return path
    base, rest = path[:dot], path[dot + 1 :]
    key_end = rest.find(".", rest.find("-"))
    key, tail = (rest, "") if key_end < 0 else (rest[:key_end], rest[key_end:])
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{base}['{escaped}']{tail}"
