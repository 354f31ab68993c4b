"""`hogflows serve` as a real process on the test session's database, its output kept in a file."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.functions.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def serve(database_url: str, log: Path, **env_overrides: str) -> Iterator[str]:
    """Yields the base URL once `/openapi.json` answers; the process's stdout and stderr go to `log`."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOGFLOWS_SECRET_KEY")}
    env.update(DATABASE_URL=database_url, HOGFLOWS_LOG_LEVEL="INFO", **env_overrides)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base_url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"server did not start: {log.read_text(errors='replace')[-2000:]}")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=20)
