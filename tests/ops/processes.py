"""`hogflows` commands as real processes: start, wait until they answer, read what they logged."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("HOGFLOWS_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(overrides)
    return env


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Process:
    """A started command whose stderr (the log) goes to a file we can read while it runs."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_lines(self) -> list[dict[str, Any]]:
        """Every line, parsed: a line that is not JSON fails the test."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]

    def wait_until_answers(self, url: str, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"process exited with {self.popen.returncode}:\n{self.log_text()}")
            try:
                httpx.get(url, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise AssertionError(f"{url} did not answer within {within}s:\n{self.log_text()}")

    def wait_for_line(self, predicate: Any, within: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for line in self.json_lines():
                if predicate(line):
                    return line
            if self.popen.poll() is not None:
                raise AssertionError(f"process exited with {self.popen.returncode}:\n{self.log_text()}")
            time.sleep(0.2)
        raise AssertionError(f"no such log line within {within}s:\n{self.log_text()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log.close()


@contextmanager
def started(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[Process]:
    process = Process(args, env, log_path)
    try:
        yield process
    finally:
        process.stop()


def wait_until(check: Any, within: float = 60, interval: float = 0.2) -> Any:
    """Synchronous polling with a deadline, for checks against other processes."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        time.sleep(interval)


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when it was never set)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0
