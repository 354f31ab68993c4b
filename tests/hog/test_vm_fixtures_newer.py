"""Newer programs of PostHog's `common/hogvm/__tests__/` than the shared suite has (nulls, numeric
equality, JSON functions, strings, catch after return, escaped identifiers): every ``X.hoge`` prints
exactly ``X.stdout``, and so does ``X.hog`` compiled by our compiler."""

import json
from pathlib import Path

import pytest

from app.hog import execute
from app.hog.compiler import compile_program

NEWER = Path(__file__).parent / "posthog_newer"
FIXTURES = sorted(NEWER.glob("*.hoge"))
SOURCES = sorted(NEWER.glob("*.hog"))


def _printed(bytecode: list[object]) -> str:
    result = execute(bytecode)
    assert result.finished
    return "".join(line + "\n" for line in result.prints)


def test_every_fixture_has_its_source_and_output() -> None:
    assert [path.stem for path in FIXTURES] == [path.stem for path in SOURCES]
    assert all(path.with_suffix(".stdout").exists() for path in FIXTURES)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda path: path.stem)
def test_newer_fixture_output(path: Path) -> None:
    assert _printed(json.loads(path.read_text())) == path.with_suffix(".stdout").read_text()


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.stem)
def test_newer_fixture_compiles_to_the_same_output(path: Path) -> None:
    assert _printed(compile_program(path.read_text())) == path.with_suffix(".stdout").read_text()
