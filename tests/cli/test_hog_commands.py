"""`hogflows hog run` and `hogflows hog compile` as a user calls them."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT.parent / "shared" / "hog-suite"


def hogflows(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "hog", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_bytecode_and_source_print_the_same() -> None:
    expected = (SUITE / "ifElse.stdout").read_text()
    for name in ("ifElse.hoge", "ifElse.hog"):
        result = hogflows("run", str(SUITE / name))
        assert result.returncode == 0, result.stderr
        assert result.stdout == expected


def test_compile_prints_bytecode_json() -> None:
    result = hogflows("compile", str(SUITE / "ifElse.hog"))
    assert result.returncode == 0
    assert json.loads(result.stdout) == json.loads((SUITE / "ifElse.hoge").read_text())


def test_errors_exit_non_zero_with_a_message(tmp_path: Path) -> None:
    broken = tmp_path / "broken.hog"
    broken.write_text("let a := ;")
    result = hogflows("compile", str(broken))
    assert result.returncode != 0
    assert "line 1, column" in result.stderr
    thrower = tmp_path / "throw.hog"
    thrower.write_text("print('before')\nthrow Error('boom')")
    result = hogflows("run", str(thrower))
    assert result.returncode != 0
    assert result.stdout == "before\n"
    assert "boom" in result.stderr
