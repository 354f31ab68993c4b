"""Benchmark where Hog sources are parsed: in this process or in a parse process (`app/hog/parse_pool.py`).

    .venv/bin/python bench/hog_parse.py [--repeats 21]

For sources of growing size it prints the median time of a parse in-process and through the pool
(interleaved, after a warm-up that starts the pool), their ratio, and which one `guard.scan` picks.
This is the measurement behind `guard.SMALL`: a pool round trip costs about a millisecond, so small
sources stay in-process; big ones go to the pool, where a crash or a slow parse cannot hurt the server.
Never run by the tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.hog import parse_pool
from app.hog.guard import scan
from app.hog.parser import load_parser

FUNC = "parse_full_template_string_json"
SOURCES = {
    "ordinary": "Hello {person.properties.name}! You did {event.event} at {event.timestamp}",
    "email 20": "<p>Hi {person.properties.first_name},</p>" + "<li>{event.properties.item}</li>" * 20,
    "email 100": "<p>Hi {person.properties.first_name},</p>" + "<li>{event.properties.item}</li>" * 100,
    "text 64 KB": "Plain text without placeholders. " * 2000,
}


def timed(call: object) -> float:
    started = time.perf_counter()
    call()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    options = parser.parse_args()
    module = load_parser()
    for source in SOURCES.values():  # warm-up: parser caches, pool processes
        getattr(module, FUNC)("F'" + source)
        parse_pool.parse_in_process(FUNC, "F'" + source, 30)
    print(f"{'source':<12} {'chars':>7} {'in-process ms':>14} {'pool ms':>9} {'pool/in':>8}  scan picks")
    for name, source in SOURCES.items():
        text = "F'" + source
        local: list[float] = []
        pooled: list[float] = []
        for _ in range(options.repeats):
            local.append(timed(lambda text=text: getattr(module, FUNC)(text)))
            pooled.append(timed(lambda text=text: parse_pool.parse_in_process(FUNC, text, 30)))
        a, b = statistics.median(local), statistics.median(pooled)
        picks = "in-process" if scan(source, template=True).is_small else "pool"
        print(f"{name:<12} {len(source):>7} {a:>14.2f} {b:>9.2f} {b / a:>8.1f}  {picks}")
    parse_pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
