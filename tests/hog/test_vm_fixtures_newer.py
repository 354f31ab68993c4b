"""Newer programs of PostHog's `common/hogvm/__tests__/` than the shared suite has (nulls, numeric
equality, JSON functions, strings, catch after return): every ``X.hoge`` prints exactly ``X.stdout``."""

import json
from pathlib import Path

import pytest

from app.hog import execute

NEWER = Path(__file__).parent / "posthog_newer"
FIXTURES = sorted(NEWER.glob("*.hoge"))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_newer_fixture_output(path: Path) -> None:
    result = execute(json.loads(path.read_text()))
    assert result.finished
    assert "".join(line + "\n" for line in result.prints) == path.with_suffix(".stdout").read_text()
