"""How long a flow's graph page takes: a 100-action flow against a 5-action one, measured in the same run.

    .venv/bin/python bench/web_graph.py [--actions 100] [--repeats 15] [--no-browser]

1. Server side, in-process: `layout()` plus rendering the graph fragment template, medians of
   `--repeats` interleaved runs for the big and the small flow.
2. In the browser (when /usr/bin/chromium and /usr/bin/chromedriver exist): a real `hogflows serve` on
   a temporary SQLite database, headless Chromium signed in; each page load is timed from navigation
   start to the load event (the SVG is in the HTML, so this is when the graph is drawn), interleaved.

Prints medians in milliseconds and the ratio big/small.
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from jinja2 import Environment, FileSystemLoader

from app.web.layout import layout

ROOT = Path(__file__).resolve().parents[1]


def flow(size: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    actions: list[dict[str, Any]] = [
        {"id": "trigger", "name": "Start", "type": "trigger", "config": {"type": "schedule"}}
    ]
    edges = []
    kinds = ["delay", "conditional_branch", "random_cohort_branch", "wait_until_condition", "exit"]
    for i in range(size):
        kind = rng.choice(kinds)
        config: dict[str, Any] = {"delay_duration": "1h"} if kind == "delay" else {}
        actions.append({"id": f"a{i}", "name": f"step {i}", "type": kind, "config": config})
        parent = rng.choice(actions[max(0, i - 6) : i + 1])["id"]
        kind_of_edge = "branch" if rng.random() < 0.5 else "continue"
        edges.append({"from": parent, "to": f"a{i}", "type": kind_of_edge, "index": 0})
    return {"name": f"{size} actions", "actions": actions, "edges": edges}


def server_side(big: dict[str, Any], small: dict[str, Any], repeats: int) -> None:
    env = Environment(loader=FileSystemLoader(ROOT / "app/web/templates"), autoescape=True)
    template = env.get_template("_graph.html")

    def once(payload: dict[str, Any]) -> float:
        start = time.perf_counter()
        drawn = layout(payload["actions"], payload["edges"])
        template.render(graph=drawn, flow=payload, counts={}, path=None)
        return (time.perf_counter() - start) * 1000

    times: dict[str, list[float]] = {"big": [], "small": []}
    for _ in range(repeats):
        times["big"].append(once(big))
        times["small"].append(once(small))
    report("server: layout + SVG render", times)


def report(what: str, times: dict[str, list[float]]) -> None:
    big, small = statistics.median(times["big"]), statistics.median(times["small"])
    print(f"{what}: big {big:.1f} ms, small {small:.1f} ms, ratio big/small {big / small:.2f}")


def browser_side(big: dict[str, Any], small: dict[str, Any], repeats: int) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    folder = Path(tempfile.mkdtemp())
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'bench.sqlite3'}", HOGFLOWS_LOG_LEVEL="WARNING")
    tenant = json.loads(
        subprocess.run(
            [sys.executable, "-m", "app.cli", "bootstrap", "--json"], env=env, cwd=ROOT, capture_output=True, check=True
        ).stdout
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,800",
    ]:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={folder / 'profile'}")
    driver = None
    try:
        for _ in range(100):
            try:
                httpx.get(base, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        api = httpx.Client(
            base_url=f"{base}/api/projects/{tenant['team_id']}",
            headers={"Authorization": f"Bearer {tenant['api_key']}"},
        )
        ids = {
            name: api.post("/hog_flows/", json=payload).json()["id"]
            for name, payload in (("big", big), ("small", small))
        }
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        driver.get(base)
        driver.find_element("id", "api_key").send_keys(tenant["api_key"] + "\n")
        times: dict[str, list[float]] = {"big": [], "small": []}
        for _ in range(repeats):
            for name in ("big", "small"):
                driver.get(f"{base}/teams/{tenant['team_id']}/flows/{ids[name]}")
                timing = driver.execute_script(
                    "var n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime;"
                )
                times[name].append(float(timing))
        report("browser: navigation start to load event", times)
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--actions", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    big, small = flow(args.actions), flow(5)
    server_side(big, small, args.repeats)
    if not args.no_browser and Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists():
        browser_side(big, small, args.repeats)


if __name__ == "__main__":
    main()
