"""The regex layer: same answers as ``re``, linear time when backtracking could explode."""

from __future__ import annotations

import random
import re
import time

import pytest

from app.hog import HogVMError
from app.hog.regex import _pike_search, regex_extract, regex_search


class _Ctx:
    def check_deadline(self) -> None:
        pass


PATTERNS = ["(a|b)*b", "a*b*a", "(ab)+", "a?b?a", "(a|ab)+b", "[ab]{2,3}a", "b(a*)b", "(a*)(b*)a", "^a|b$", "a*?b"]


def test_pike_vm_agrees_with_re_on_random_inputs() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        pattern = rng.choice(PATTERNS)
        text = "".join(rng.choice("ab") for _ in range(rng.randint(0, 9)))
        expected = re.search(pattern, text)
        got = _pike_search(pattern, text, False, None)
        if expected is None:
            assert got is None, (pattern, text)
            continue
        assert got is not None, (pattern, text)
        for group in range(expected.re.groups + 1):
            start, end = expected.span(group)
            assert (got[2 * group], got[2 * group + 1]) == ((start, end) if start >= 0 else (None, None))


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
    ],
)
def test_pike_vm_features(pattern: str, text: str, expected: bool) -> None:
    assert (_pike_search(pattern, text, False, None) is not None) is expected


def test_case_insensitive() -> None:
    assert _pike_search("HEL+O", "hello", True, None) is not None
    assert regex_search(_Ctx(), "EST", "test", case_insensitive=True)


def test_catastrophic_patterns_use_the_linear_engine() -> None:
    started = time.perf_counter()
    assert not regex_search(_Ctx(), "(a+)+$", "a" * 20_000 + "b", case_insensitive=False)
    assert not regex_search(_Ctx(), "(a|aa)*c", "a" * 5_000, case_insensitive=False)
    assert not regex_search(_Ctx(), "a.*a.*a.*a.*b", "a" * 3_000, case_insensitive=False)
    assert time.perf_counter() - started < 5


def test_extract() -> None:
    assert regex_extract(_Ctx(), "(\\d+)-(\\d+)", "x 12-34 y") == "12"
    assert regex_extract(_Ctx(), "\\d+", "x 12-34 y") == "12"
    assert regex_extract(_Ctx(), "z", "abc") == ""
    assert regex_extract(_Ctx(), "((a|b)+)c", "x" * 50 + "ababc") == "abab"


def test_invalid_pattern() -> None:
    with pytest.raises(HogVMError, match="Invalid regular expression"):
        regex_search(_Ctx(), "(", "x", case_insensitive=False)
