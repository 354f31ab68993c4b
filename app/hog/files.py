"""File helpers behind `hogflows hog compile FILE.hog` and `hogflows hog run FILE`.

* `compile_file(path)`: a `.hoge` file is read as JSON bytecode; anything else is Hog source and is
  compiled as a program.
* `run_file(path, stdout, stderr)`: compile (or load) and execute with no globals, like PostHog's
  `bin/hog`; each printed line goes to `stdout` followed by a newline. A syntax/compile error or an
  uncaught runtime error is written to `stderr` and the exit code is non-zero (1 for runtime errors,
  2 when the file can not be read or compiled).
"""

from __future__ import annotations

import json
import time
from os import PathLike
from pathlib import Path
from typing import Any, TextIO

from app.hog.compiler import compile_program
from app.hog.parser import HogCompileError

__all__ = ["compile_file", "run_file"]

EXIT_OK = 0
EXIT_RUNTIME_ERROR = 1
EXIT_COMPILE_ERROR = 2

_BYTECODE_SUFFIX = ".hoge"


def compile_file(path: str | PathLike[str]) -> list[Any]:
    """Bytecode for `path`: `.hoge` is loaded as JSON, any other file is compiled as Hog source.

    Raises `OSError` if the file can not be read, `HogSyntaxError`/`HogCompileError` for bad source
    and `ValueError` for a `.hoge` file that is not a JSON bytecode array.
    """
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    if file.suffix == _BYTECODE_SUFFIX:
        bytecode = json.loads(text)
        if not isinstance(bytecode, list | dict):
            raise ValueError(f"{file}: not Hog bytecode (expected a JSON array)")
        return bytecode  # type: ignore[return-value]  # the multi-chunk dict form is passed through
    return compile_program(text)


def run_file(path: str | PathLike[str], stdout: TextIO, stderr: TextIO) -> int:
    """Run a `.hog` or `.hoge` file; returns the process exit code."""
    try:
        bytecode = compile_file(path)
    except HogCompileError as exc:
        stderr.write(f"{path}: {exc}\n")
        return EXIT_COMPILE_ERROR
    except (OSError, ValueError) as exc:
        stderr.write(f"{path}: {exc}\n")
        return EXIT_COMPILE_ERROR

    from app.hog import execute  # imported lazily: compiling does not need the VM

    try:
        # A script on the command line may block: `sleep` waits here, nowhere else (see stl/core.py).
        result = execute(bytecode, functions={"sleep": lambda seconds: time.sleep(max(0.0, float(seconds)))})
    except Exception as exc:
        # The VM's errors carry the lines printed before the failure.
        _write_lines(stdout, list(getattr(exc, "prints", None) or []))
        stderr.write(f"{exc}\n")
        return EXIT_RUNTIME_ERROR
    _write_lines(stdout, list(result.prints))
    if not result.finished:
        name = result.async_call.name if result.async_call is not None else "an async function"
        stderr.write(f"{path}: can not run {name}() outside a flow (async host functions pause the VM)\n")
        return EXIT_RUNTIME_ERROR
    return EXIT_OK


def _write_lines(stream: TextIO, lines: list[str]) -> None:
    for line in lines:
        stream.write(f"{line}\n")
    stream.flush()
