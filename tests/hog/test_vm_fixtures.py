"""PostHog's Hog conformance fixtures: every ``X.hoge`` prints exactly ``X.stdout``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.hog import execute

from .vm_helpers import SUITE

FIXTURES = sorted(SUITE.glob("*.hoge"))


def test_suite_is_present() -> None:
    assert SUITE.is_dir(), f"Hog fixture suite not found at {SUITE}"
    assert len(FIXTURES) >= 32


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_fixture_output(path: Path) -> None:
    result = execute(json.loads(path.read_text()))
    assert result.finished
    expected = path.with_suffix(".stdout")
    if not expected.exists():  # crypto: runtimes disagree on the binary digest, just run it
        assert result.prints
        return
    assert "".join(line + "\n" for line in result.prints) == expected.read_text()
