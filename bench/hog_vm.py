"""Benchmark the Hog VM and the filter fast path against PostHog's VM on a warm V8.

    .venv/bin/python bench/hog_vm.py [--seconds 0.5] [--repeats 5] [--warmup 2]

Programs: the ``mandelbrot`` and ``recursion`` fixtures, and three filters compiled from filter
JSON the way a saved flow stores them: ``filter10`` (``$pageview`` and ``$browser = 'Chrome'``,
10 ops), ``filter13`` (``$pageview`` and ``$browser`` one of three values, 13 ops) and
``filter_regex`` (``$pageview`` and ``$current_url =~ '/pricing'``, 12 ops with two native calls).

Engines, all in the same run:
- ``vm``: ``app.hog.execute`` (our VM, a fresh run each time, as before);
- ``filter``: ``run_filter_bytecode``, the production entry point for filters (the compiled fast
  path when it supports the bytecode, the VM otherwise), filters only;
- ``hogvm``: ``@posthog/hogvm``'s ``exec`` in one long-lived ``node`` process, installed from the
  npm registry into a temporary folder and warmed up on every program before any measurement.
  Its regexes run on V8's own ``RegExp`` (PostHog plugs in RE2, which is slower to call).

Each repeat measures every (program, engine) pair for ``--seconds`` (calls in growing batches
between clock reads), rotating the engine order between repeats, so load on the machine hits
all engines alike. Printed: the median time per run over the repeats (min-max in brackets) and
the median over repeats of the same-repeat ratio ours / hogvm (above 1 means we are slower).
Results are checked to agree between the three engines first. Never run by the tests.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.filters import compile_filters
from app.filters.evaluate import run_filter_bytecode
from app.hog import execute, from_hog_value

SUITE = Path(__file__).resolve().parents[1].parent / "shared" / "hog-suite"
PAGEVIEW = {"events": [{"id": "$pageview", "name": "$pageview", "type": "events"}]}
FILTERS: dict[str, dict[str, Any]] = {
    "filter10": {**PAGEVIEW, "properties": [{"key": "$browser", "value": "Chrome", "type": "event"}]},
    "filter13": {
        **PAGEVIEW,
        "properties": [{"key": "$browser", "value": ["Firefox", "Safari", "Chrome"], "type": "event"}],
    },
    "filter_regex": {
        **PAGEVIEW,
        "properties": [{"key": "$current_url", "value": "/pricing", "operator": "regex", "type": "event"}],
    },
}
FILTER_GLOBALS = {
    "event": "$pageview",
    "distinct_id": "user-1",
    "properties": {"$browser": "Chrome", "$current_url": "https://example.com/pricing?plan=pro", "x": 5},
    "person": {"id": "p-1", "properties": {"email": "alice@example.com"}},
}

NODE_SCRIPT = r"""
const readline = require('readline');
const hogvm = require('@posthog/hogvm');
const programs = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const options = {};
for (const [name, spec] of Object.entries(programs)) {
  options[name] = {
    globals: spec.globals,
    functions: { print: () => null },
    timeout: 60000,
    external: { regex: { match: (regex, value) => new RegExp(regex).test(value) } },
  };
}
function run(name) { return hogvm.exec(programs[name].bytecode, options[name]); }
function measure(name, seconds) {
  let calls = 0, batch = 1;
  const start = process.hrtime.bigint();
  for (;;) {
    for (let i = 0; i < batch; i++) run(name);
    calls += batch;
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    if (elapsed >= seconds) return elapsed / calls;
    batch = Math.min(batch * 2, 4096);
  }
}
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const cmd = JSON.parse(line);
  let out;
  if (cmd.op === 'result') out = { result: run(cmd.name).result };
  else if (cmd.op === 'warmup') { for (const name of Object.keys(programs)) measure(name, cmd.seconds); out = {}; }
  else out = { seconds_per_run: measure(cmd.name, cmd.seconds) };
  process.stdout.write(JSON.stringify(out) + '\n');
});
"""


def load_programs() -> dict[str, dict[str, Any]]:
    programs: dict[str, dict[str, Any]] = {}
    for name in ("mandelbrot", "recursion"):
        programs[name] = {"bytecode": json.loads((SUITE / f"{name}.hoge").read_text()), "globals": {}}
    for name, filters in FILTERS.items():
        programs[name] = {"bytecode": compile_filters(filters)["bytecode"], "globals": FILTER_GLOBALS}
    return programs


def measure(fn: Callable[[], Any], seconds: float) -> float:
    """Seconds per call: calls in growing batches, the clock read only between batches."""
    calls, batch = 0, 1
    started = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return elapsed / calls
        batch = min(batch * 2, 4096)


class Node:
    """One warm ``node`` process running ``@posthog/hogvm``; None when node/npm are missing."""

    def __init__(self, folder: Path, programs: dict[str, dict[str, Any]]) -> None:
        (folder / "programs.json").write_text(json.dumps(programs))
        (folder / "bench.js").write_text(NODE_SCRIPT)
        self.process = subprocess.Popen(
            ["node", "bench.js", "programs.json"],
            cwd=folder,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return dict(json.loads(self.process.stdout.readline()))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def install_hogvm(folder: Path) -> bool:
    if not (shutil.which("node") and shutil.which("npm")):
        print("node/npm not found: skipping the @posthog/hogvm comparison")
        return False
    (folder / "package.json").write_text('{"name": "hogvm-bench", "private": true}')
    install = subprocess.run(
        ["npm", "install", "--no-save", "--no-audit", "--no-fund", "@posthog/hogvm"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0:
        print(f"npm install @posthog/hogvm failed, skipping the comparison:\n{install.stderr[-2000:]}")
        return False
    version = json.loads((folder / "node_modules" / "@posthog" / "hogvm" / "package.json").read_text())["version"]
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"@posthog/hogvm {version} on node {node_version}")
    return True


def python_engines(programs: dict[str, dict[str, Any]]) -> dict[tuple[str, str], Callable[[], Any]]:
    engines: dict[tuple[str, str], Callable[[], Any]] = {}
    for name, spec in programs.items():
        bytecode, globals_ = spec["bytecode"], spec["globals"]
        engines[(name, "vm")] = functools.partial(execute, bytecode, globals_)
        if name in FILTERS:
            engines[(name, "filter")] = functools.partial(run_filter_bytecode, bytecode, globals_)
    return engines


def check_results(programs: dict[str, dict[str, Any]], node: Node | None) -> None:
    for name, spec in programs.items():
        ours = from_hog_value(execute(spec["bytecode"], spec["globals"]).result)
        if name in FILTERS:
            fast = run_filter_bytecode(spec["bytecode"], spec["globals"])
            assert fast.error is None and fast.result == ours, (name, fast, ours)
        if node is not None:
            theirs = node.ask(op="result", name=name)["result"]
            assert theirs == ours, f"{name}: @posthog/hogvm gives {theirs!r}, we give {ours!r}"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (medians are printed)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of V8 warm-up per program")
    parser.add_argument("--only", nargs="*", help="program names to run (default: all)")
    options = parser.parse_args()
    programs = load_programs()
    if options.only:
        programs = {name: spec for name, spec in programs.items() if name in options.only}
    engines = python_engines(programs)
    samples: dict[tuple[str, str], list[float]] = {}
    ratios: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="hogvm-bench-") as folder:
        node = Node(Path(folder), programs) if install_hogvm(Path(folder)) else None
        try:
            check_results(programs, node)
            if node is not None:
                node.ask(op="warmup", seconds=options.warmup)
            for fn in engines.values():
                measure(fn, 0.1)
            for repeat in range(options.repeats):
                for name in programs:
                    kinds = [kind for (program, kind) in engines if program == name]
                    kinds += ["hogvm"] if node is not None else []
                    shift = repeat % len(kinds)
                    this_repeat: dict[str, float] = {}
                    for kind in kinds[shift:] + kinds[:shift]:
                        if kind == "hogvm":
                            assert node is not None
                            took = float(node.ask(op="measure", name=name, seconds=options.seconds)["seconds_per_run"])
                        else:
                            took = measure(engines[(name, kind)], options.seconds)
                        this_repeat[kind] = took
                        samples.setdefault((name, kind), []).append(took)
                    if "hogvm" in this_repeat:
                        for kind, took in this_repeat.items():
                            if kind != "hogvm":
                                ratios.setdefault((name, kind), []).append(took / this_repeat["hogvm"])
        finally:
            if node is not None:
                node.close()
    print(f"\n{options.repeats} interleaved repeats of {options.seconds:g} s each; µs per run: median [min-max]")
    print(f"{'program':<14} {'engine':<8} {'µs/run':>28} {'ours/hogvm (same repeat)':>26}")
    for (name, kind), values in samples.items():
        spread = f"{statistics.median(values) * 1e6:.2f} [{min(values) * 1e6:.2f}-{max(values) * 1e6:.2f}]"
        ratio = ratios.get((name, kind))
        ratio_text = f"{statistics.median(ratio):.2f}x [{min(ratio):.2f}-{max(ratio):.2f}]" if ratio else ""
        print(f"{name:<14} {kind:<8} {spread:>28} {ratio_text:>26}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
