"""The API for tests: in this process (`app_client`), or `hogflows` commands as real processes (`serve` on a
free port once it answers, worker pools, one-shot runs).

Every started process writes its stdout and stderr to a log file (a temporary one unless the test names
it), and a process that exits or does not answer in time fails the test with the end of that log.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[1]
LOG_TAIL = 4000


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app made with `settings`, its lifespan running in this process."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def child_pids(pid: int) -> set[int]:
    """Children of every thread of `pid` (the kernel lists a child under the thread that started it)."""
    return {
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    }


def process_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit is reaped by whoever adopts it, maybe late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**overrides: str) -> dict[str, str]:
    """This environment without our settings, so the shell's cannot leak into a test's process."""
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
    """A started `hogflows` command whose output goes to a log file we can read while it runs."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path | None = None) -> None:
        self._temporary = log_path is None
        if log_path is None:
            handle, name = tempfile.mkstemp(prefix="hogflows-", suffix=".log")
            os.close(handle)
            log_path = Path(name)
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_lines(self) -> list[dict[str, Any]]:
        """Every line, parsed: a line that is not JSON fails the test."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]

    def failure(self, what: str) -> AssertionError:
        return AssertionError(f"{what}; the end of its log:\n{self.log_text()[-LOG_TAIL:]}")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_until_answers(self, url: str, within: float = 60) -> None:
        """Until `url` answers 200; the process exiting first fails at once."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.alive():
                raise self.failure(f"process exited with {self.popen.returncode}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise self.failure(f"{url} did not answer within {within}s")

    def wait_for_line(self, predicate: Callable[[dict[str, Any]], Any], within: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for line in self.json_lines():
                if predicate(line):
                    return line
            if not self.alive():
                raise self.failure(f"process exited with {self.popen.returncode}")
            time.sleep(0.2)
        raise self.failure(f"no such log line within {within}s")

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._temporary:
            self.log_path.unlink(missing_ok=True)


@contextmanager
def started(args: list[str], env: dict[str, str], log_path: Path | None = None) -> Iterator[Process]:
    process = Process(args, env, log_path)
    try:
        yield process
    finally:
        process.stop()


class Server(Process):
    """`hogflows serve` on a free port of 127.0.0.1."""

    def __init__(self, env: dict[str, str], log_path: Path | None = None) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        super().__init__(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log_path)


@contextmanager
def serving(env: dict[str, str], log_path: Path | None = None, within: float = 60) -> Iterator[Server]:
    """A `hogflows serve` with `env`, yielded once its `/_health` answers; stopped on the way out."""
    server = Server(env, log_path)
    try:
        server.wait_until_answers(f"{server.base_url}/_health", within)
        yield server
    finally:
        server.stop()


class Workers:
    """Start and kill `hogflows worker` processes; `stop_all` ends whichever still run."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[Process] = []

    def start(self, output: Path | None = None, **env: str) -> subprocess.Popen[bytes]:
        """A worker with the pool's environment plus `env`; its output goes to `output` when given."""
        process = Process(["worker"], {**self.env, **env}, output)
        self.processes.append(process)
        return process.popen

    def kill(self, popen: subprocess.Popen[bytes]) -> None:
        next(process for process in self.processes if process.popen is popen).kill()

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop(grace=10)
