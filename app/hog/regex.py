"""Regex matching for `=~`, `match()` and `extractRegex()` (unanchored search) on RE2, as PostHog's VMs do.

RE2 (`google-re2`) runs in time linear in the text for a given pattern: no pattern can backtrack
catastrophically, and RE2 syntax is what Hog regexes mean (hog.md §5.5; backreferences and lookaround
are syntax errors there too). Linear is not free: the worst case is about `len(text) x program size`
steps (measured: a 1 MB text against a 1,000-instruction pattern, 4 s), and one RE2 call cannot be
interrupted by the VM's clock. So a call whose `len(text) x programsize` exceeds
`Limits.regex_work_budget` fails with a clear error before it starts.

Matching needs no captures (`never_capture`, the DFA alone); `extractRegex` uses a second, capturing
compilation only when the pattern has groups.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2

from app.hog.errors import HogVMError

_DEFAULT_WORK_BUDGET = 100_000_000
_MAX_MEMORY = 32 << 20


def _options(case_insensitive: bool, capture: bool) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not case_insensitive
    options.never_capture = not capture
    options.max_mem = _MAX_MEMORY
    return options


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str, case_insensitive: bool = False, capture: bool = False) -> Any:
    """The RE2 program for `pattern`; raises `HogVMError` for a pattern RE2 does not accept."""
    try:
        return re2.compile(pattern, _options(case_insensitive, capture))
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise HogVMError(f"Invalid regular expression {pattern!r}: {detail}") from None


def _check_work(ctx: Any, compiled: Any, pattern: str, text: str) -> None:
    limits = getattr(ctx, "limits", None)
    budget = int(getattr(limits, "regex_work_budget", _DEFAULT_WORK_BUDGET))
    if len(text) * max(1, compiled.programsize) > budget:
        raise HogVMError(f"Regular expression {pattern!r} is too complex for an input of {len(text)} characters")


def regex_search(ctx: Any, pattern: str, text: str, case_insensitive: bool) -> bool:
    compiled = compile_pattern(pattern, case_insensitive)
    _check_work(ctx, compiled, pattern, text)
    return compiled.search(text) is not None


def regex_extract(ctx: Any, pattern: str, text: str) -> str:
    """First capture group of the first match (whole match without groups); '' if none."""
    compiled = compile_pattern(pattern, False, True)
    _check_work(ctx, compiled, pattern, text)
    found = compiled.search(text)
    if found is None:
        return ""
    return (found.group(1) or "") if compiled.groups else found.group(0)


def matches(pattern: str, text: str) -> bool:
    """A search outside the VM (e.g. folding a filter constant), under the default work budget."""
    return regex_search(None, pattern, text, case_insensitive=False)
