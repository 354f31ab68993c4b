"""Benchmark the Hog VM: runs/s and ops/s on CPU-heavy programs, and a ratio to PostHog's VM.

    .venv/bin/python bench/hog_vm.py [--seconds 2]

Programs: the ``mandelbrot`` and ``recursion`` fixtures and a filter-like expression
(``event = '$pageview' and properties.x > 3``, as bytecode). When ``node`` and ``npm`` are on
PATH, ``@posthog/hogvm`` is installed from the npm registry into a temporary folder and runs the
same bytecode in the same run; the ratio printed is ours / theirs in runs per second (below 1 means
we are slower). Without Node only our numbers are printed. Never run by the tests.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.hog import execute

SUITE = Path(__file__).resolve().parents[1].parent / "shared" / "hog-suite"
# event = '$pageview' and properties.x > 3
FILTER_BYTECODE = ["_H", 1, 32, "$pageview", 32, "event", 1, 1, 11, 33, 3, 32, "x", 32, "properties", 1, 2, 13, 3, 2]
FILTER_GLOBALS = {"event": "$pageview", "properties": {"x": 5, "$browser": "Chrome"}}

NODE_SCRIPT = r"""
const fs = require('fs');
const hogvm = require('@posthog/hogvm');
const programs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const seconds = Number(process.argv[3]);
const out = {};
for (const [name, spec] of Object.entries(programs)) {
  const options = { globals: spec.globals, functions: { print: () => null }, timeout: 60000 };
  let runs = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < seconds) {
    hogvm.exec(spec.bytecode, options);
    runs += 1;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  out[name] = runs / elapsed;
}
console.log(JSON.stringify(out));
"""


def load_programs() -> dict[str, dict[str, Any]]:
    programs: dict[str, dict[str, Any]] = {}
    for name in ("mandelbrot", "recursion"):
        programs[name] = {"bytecode": json.loads((SUITE / f"{name}.hoge").read_text()), "globals": {}}
    programs["filter"] = {"bytecode": FILTER_BYTECODE, "globals": FILTER_GLOBALS}
    return programs


def bench_ours(spec: dict[str, Any], seconds: float) -> tuple[float, float]:
    """(runs per second, VM operations per second)."""
    runs = ops = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        result = execute(spec["bytecode"], spec["globals"])
        runs += 1
        ops += result.ops
        elapsed = time.perf_counter() - started
    return runs / elapsed, ops / elapsed


def bench_node(programs: dict[str, dict[str, Any]], seconds: float) -> dict[str, float] | None:
    if not (shutil.which("node") and shutil.which("npm")):
        print("node/npm not found: skipping the @posthog/hogvm comparison")
        return None
    with tempfile.TemporaryDirectory(prefix="hogvm-bench-") as folder:
        root = Path(folder)
        (root / "package.json").write_text('{"name": "hogvm-bench", "private": true}')
        install = subprocess.run(
            ["npm", "install", "--no-save", "--no-audit", "--no-fund", "@posthog/hogvm"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if install.returncode != 0:
            print(f"npm install @posthog/hogvm failed, skipping the comparison:\n{install.stderr[-2000:]}")
            return None
        (root / "programs.json").write_text(json.dumps(programs))
        (root / "bench.js").write_text(NODE_SCRIPT)
        run = subprocess.run(
            ["node", "bench.js", "programs.json", str(seconds)],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if run.returncode != 0:
            print(f"@posthog/hogvm run failed, skipping the comparison:\n{run.stderr[-2000:]}")
            return None
        return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent per program and VM")
    options = parser.parse_args()
    programs = load_programs()
    ours: dict[str, float] = {}
    print(f"{'program':<12} {'runs/s':>12} {'ops/s':>14}")
    for name, spec in programs.items():
        runs, ops = bench_ours(spec, options.seconds)
        ours[name] = runs
        print(f"{name:<12} {runs:>12.1f} {ops:>14,.0f}")
    theirs = bench_node(programs, options.seconds)
    if theirs:
        print(f"\n{'program':<12} {'ours runs/s':>12} {'@posthog/hogvm':>15} {'ours/theirs':>12}")
        for name in programs:
            ratio = ours[name] / theirs[name] if theirs.get(name) else float("nan")
            print(f"{name:<12} {ours[name]:>12.1f} {theirs.get(name, 0):>15.1f} {ratio:>12.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
