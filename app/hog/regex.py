"""Regex matching for ``=~``, ``match()`` and ``extractRegex()``: unanchored search."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from app.hog.errors import HogVMError


@lru_cache(maxsize=512)
def _compile(pattern: str, case_insensitive: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if case_insensitive else 0)
    except re.error as exc:
        raise HogVMError(f"Invalid regular expression {pattern!r}: {exc}") from None


def regex_search(ctx: Any, pattern: str, text: str, case_insensitive: bool) -> bool:
    return _compile(pattern, case_insensitive).search(text) is not None


def regex_extract(ctx: Any, pattern: str, text: str) -> str:
    found = _compile(pattern, False).search(text)
    if found is None:
        return ""
    return found.group(1) if found.re.groups else found.group(0)
