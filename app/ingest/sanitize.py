"""Making client JSON storable: PostgreSQL refuses NUL characters, lone surrogates and non-finite numbers.

Replacements instead of refusals where PostHog's ingestion replaces too (NUL → U+FFFD); values nested
deeper than any real event are refused so that no later recursion can blow the stack.
"""

import math
import re
from typing import Any

MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnstorableValue(ValueError):
    pass


def _text(value: str) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (`"\\ud800"` in JSON) cannot be encoded; it becomes U+FFFD too.
        value = _SURROGATE.sub("\ufffd", value)
    return value


def storable(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON value that PostgreSQL's JSONB accepts; raises `UnstorableValue` otherwise."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise UnstorableValue(f"values may be nested at most {MAX_DEPTH} levels deep")
        return {_text(str(key)): storable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise UnstorableValue(f"values may be nested at most {MAX_DEPTH} levels deep")
        return [storable(item, depth + 1) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise UnstorableValue("numbers must be finite")
    return value
