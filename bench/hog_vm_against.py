"""Compare this tree's Hog VM with the VM of another git revision, on the same machine in the same run.

    .venv/bin/python bench/hog_vm_against.py REV [--seconds 1] [--repeats 7]

REV's ``app/`` is extracted to a temporary folder; each side runs the ``mandelbrot`` and ``recursion``
fixtures and a small filter program (``event = '$pageview' and properties.x > 3``) in a child process
of its own, the two sides alternate ``--repeats`` times, and the ratio printed is the median of ours /
the median of theirs in runs per second (below 1: this tree is slower). Used to check that a change to
the VM loop (e.g. opcodes as named locals) costs nothing measurable. Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO.parent / "shared" / "hog-suite"
FILTER_BYTECODE = ["_H", 1, 32, "$pageview", 32, "event", 1, 1, 11, 33, 3, 32, "x", 32, "properties", 1, 2, 13, 3, 2]
FILTER_GLOBALS = {"event": "$pageview", "properties": {"x": 5, "$browser": "Chrome"}}


def programs() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in ("mandelbrot", "recursion"):
        found[name] = {"bytecode": json.loads((SUITE / f"{name}.hoge").read_text()), "globals": {}}
    found["filter"] = {"bytecode": FILTER_BYTECODE, "globals": FILTER_GLOBALS}
    return found


def child(root: str, seconds: float) -> int:
    sys.path.insert(0, root)
    from app.hog import execute

    rates: dict[str, float] = {}
    for name, spec in programs().items():
        runs, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            execute(spec["bytecode"], spec["globals"])
            runs += 1
        rates[name] = runs / elapsed
    print(json.dumps(rates))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="git revision to compare with")
    parser.add_argument("--seconds", type=float, default=1.0, help="time per program and side, per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--child", metavar="ROOT", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        return child(options.child, options.seconds)
    samples: dict[str, dict[str, list[float]]] = {"ours": {}, "base": {}}
    with tempfile.TemporaryDirectory(prefix="hogvm-base-") as folder:
        archive = subprocess.run(["git", "archive", options.revision, "app"], cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        for _ in range(options.repeats):
            for side, root in (("base", folder), ("ours", str(REPO))):
                command = [
                    sys.executable,
                    __file__,
                    options.revision,
                    "--child",
                    root,
                    "--seconds",
                    str(options.seconds),
                ]
                out = subprocess.run(command, capture_output=True, text=True, check=True, env=dict(os.environ))
                for name, rate in json.loads(out.stdout.strip().splitlines()[-1]).items():
                    samples[side].setdefault(name, []).append(rate)
    header = f"{'program':<12} {'ours runs/s':>12} {options.revision[:12]:>14} {'ours/base':>10}"
    print(f"{header}   (medians of {options.repeats})")
    for name, rates in samples["ours"].items():
        ours, base = statistics.median(rates), statistics.median(samples["base"][name])
        print(f"{name:<12} {ours:>12.1f} {base:>14.1f} {ours / base:>10.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
