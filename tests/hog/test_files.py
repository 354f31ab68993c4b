"""`compile_file` / `run_file`: the functions behind `hogflows hog compile` and `hogflows hog run`."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.hog.files import compile_file, run_file
from app.hog.parser import HogCompileError, HogSyntaxError

SUITE = Path(__file__).resolve().parents[2].parent / "shared" / "hog-suite"


def test_compile_hog_file(tmp_path: Path) -> None:
    source = tmp_path / "hello.hog"
    source.write_text("print('hello')\n")
    assert compile_file(source) == ["_H", 1, 32, "hello", 2, "print", 1, 35]
    assert compile_file(str(source)) == ["_H", 1, 32, "hello", 2, "print", 1, 35]


def test_compile_hoge_file_reads_json(tmp_path: Path) -> None:
    bytecode = ["_H", 1, 34, 1.0, 2, "print", 1, 35]
    path = tmp_path / "x.hoge"
    path.write_text(json.dumps(bytecode))
    loaded = compile_file(path)
    assert loaded == bytecode
    assert isinstance(loaded[3], float)


def test_compile_fixture_file_matches_hoge() -> None:
    assert compile_file(SUITE / "recursion.hog") == compile_file(SUITE / "recursion.hoge")


def test_compile_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hog"
    bad.write_text("let a := 1\nlet b := (")
    with pytest.raises(HogSyntaxError) as info:
        compile_file(bad)
    assert info.value.line == 2
    undeclared = tmp_path / "undeclared.hog"
    undeclared.write_text("a := 1")
    with pytest.raises(HogCompileError):
        compile_file(undeclared)
    with pytest.raises(OSError):
        compile_file(tmp_path / "missing.hog")
    not_bytecode = tmp_path / "x.hoge"
    not_bytecode.write_text('"just a string"')
    with pytest.raises(ValueError):
        compile_file(not_bytecode)


def test_run_file_reports_compile_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hog"
    bad.write_text("print(1)\nlet b := (")
    out, err = io.StringIO(), io.StringIO()
    assert run_file(bad, out, err) != 0
    assert out.getvalue() == ""
    assert "line 2" in err.getvalue()
    assert str(bad) in err.getvalue()


def test_run_file_reports_missing_files(tmp_path: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_file(tmp_path / "missing.hog", out, err) != 0
    assert "missing.hog" in err.getvalue()


@pytest.mark.parametrize("suffix", [".hog", ".hoge"])
def test_run_fixture_files(suffix: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_file(SUITE / f"recursion{suffix}", out, err) == 0
    assert out.getvalue() == (SUITE / "recursion.stdout").read_text()
    assert err.getvalue() == ""


def test_run_file_uncaught_error(tmp_path: Path) -> None:
    path = tmp_path / "boom.hog"
    path.write_text("print('before')\nthrow HogError('FishError', 'no fish')\nprint('after')\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_file(path, out, err) != 0
    assert out.getvalue() == "before\n"
    assert "FishError" in err.getvalue()
    assert "no fish" in err.getvalue()


def test_run_file_runtime_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.hoge"
    path.write_text(json.dumps(["_H", 1, 32, "hi", 2, "print", 1, 35, 32, "nope", 1, 1, 35]))
    out, err = io.StringIO(), io.StringIO()
    assert run_file(path, out, err) != 0
    assert out.getvalue() == "hi\n"
    assert "Global variable not found: nope" in err.getvalue()


def test_run_file_async_call_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "fetch.hog"
    path.write_text("print(1)\nfetch('https://example.com')\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_file(path, out, err) != 0
    assert out.getvalue() == "1\n"
    assert "fetch" in err.getvalue()


def test_run_file_success_writes_nothing_to_stderr(tmp_path: Path) -> None:
    path = tmp_path / "ok.hog"
    path.write_text("let a := 1\nprint(a, 'two', [3])\nreturn a\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_file(path, out, err) == 0
    assert out.getvalue() == "1 two [3]\n"
    assert err.getvalue() == ""
