"""The regex layer: RE2 syntax and linear time, as PostHog's VMs; work past the budget is refused."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from app.hog import HogVMError, Limits
from app.hog.regex import regex_extract, regex_search


class _Ctx:
    limits = Limits()


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("\\bfoo\\b", "a foo b", True),
        ("\\bfoo\\b", "afoob", False),
        ("^\\d{3}-\\w+$", "123-abc", True),
        ("[^0-9]+$", "abc1", False),
        ("colou?r", "colour", True),
        ("a.c", "a\nc", False),
        ("(?s)a.c", "a\nc", True),
        ("(?m)^b", "a\nb", True),
        ("HELLO", "hello", False),
        ("(?i)HELLO", "hello", True),
        ("^\\p{L}+$", "héllo", True),
        ("\\d", "٣", False),  # RE2's \d is ASCII, Python's is not
    ],
)
def test_re2_features(pattern: str, text: str, expected: bool) -> None:
    assert regex_search(_Ctx(), pattern, text, case_insensitive=False) is expected


def test_case_insensitive() -> None:
    assert regex_search(_Ctx(), "EST", "test", case_insensitive=True)
    assert not regex_search(_Ctx(), "EST", "test", case_insensitive=False)


def test_catastrophic_patterns_are_linear() -> None:
    started = time.perf_counter()
    assert not regex_search(_Ctx(), "(a+)+$", "a" * 20_000 + "b", case_insensitive=False)
    assert not regex_search(_Ctx(), "(a|aa)*c", "a" * 5_000, case_insensitive=False)
    assert not regex_search(_Ctx(), "a.*a.*a.*a.*b", "a" * 3_000, case_insensitive=False)
    # The blast-radius hang of issue 11 (hours on Python's `re`).
    assert not regex_search(_Ctx(), "(.*){200}(.*){200}b", "null", case_insensitive=False)
    assert regex_search(_Ctx(), "(.*){200}(.*){200}b", "x" * 1000 + "b", case_insensitive=False)
    assert time.perf_counter() - started < 5


def test_work_past_the_budget_is_refused_before_it_starts() -> None:
    started = time.perf_counter()
    with pytest.raises(HogVMError, match="too complex for an input of 1000000 characters"):
        regex_search(_Ctx(), "a[ab]{500}b[ab]{500}c", "ab" * 500_000, case_insensitive=False)
    assert time.perf_counter() - started < 1
    small = type("Ctx", (), {"limits": Limits(regex_work_budget=1_000)})()
    with pytest.raises(HogVMError, match="too complex"):
        regex_search(small, "abc", "x" * 1_000, case_insensitive=False)


def test_extract() -> None:
    assert regex_extract(_Ctx(), "(\\d+)-(\\d+)", "x 12-34 y") == "12"
    assert regex_extract(_Ctx(), "\\d+", "x 12-34 y") == "12"
    assert regex_extract(_Ctx(), "z", "abc") == ""
    assert regex_extract(_Ctx(), "((a|b)+)c", "x" * 50 + "ababc") == "abab"
    assert regex_extract(_Ctx(), "(x)?y", "y") == ""


@pytest.mark.parametrize("pattern", ["(", "(a)\\1", "(?=a)", "a{1001}"])
def test_patterns_re2_refuses(pattern: str) -> None:
    with pytest.raises(HogVMError, match="Invalid regular expression"):
        regex_search(_Ctx(), pattern, "x", case_insensitive=False)


def test_no_request_regex_reaches_pythons_re() -> None:
    """The modules that evaluate a client's regex never call `re.search`/`re.match` on it."""
    root = Path(__file__).resolve().parents[2] / "app"
    for path in (
        "hog/regex.py",
        "hog/vm.py",
        "hog/stl/strings.py",
        "audiences/pushdown.py",
        "audiences/regex.py",
        "engine/functions/liquid.py",
        "engine/functions/liquid_guard.py",
    ):
        source = (root / path).read_text()
        assert not re.search(r"\bre\.(search|match|fullmatch|sub|findall|finditer)\(", source), path
        assert "re._parser" not in source and "sre_parse" not in source, path
