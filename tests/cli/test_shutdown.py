"""Stopping `hogflows serve` with a signal leaves an operator's log clean and no process behind."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.polling import wait_until
from tests.serving import ROOT, base_env, child_pids, process_running, serving


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    # uvicorn raises SIGTERM again once it has shut down (the exit handlers do not run); after SIGINT it returns.
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 0)],
)
def test_a_stopped_server_leaks_no_semaphores(tmp_path: Path, signum: signal.Signals, exit_code: int) -> None:
    env = base_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}")
    with serving(env, tmp_path / "serve.log") as serve:
        # The parse processes and multiprocessing's resource tracker, which warns (if at all) when it ends.
        children = child_pids(serve.popen.pid)
        assert len(children) >= 3 and "template_warm_up_incomplete" not in serve.log_text(), children
        serve.popen.send_signal(signum)
        assert serve.popen.wait(timeout=30) == exit_code, serve.log_text()
        wait_until(lambda: not any(process_running(pid) for pid in children), within=30)
        log = serve.log_text()
    assert "Application shutdown complete" in log
    assert "leaked semaphore" not in log, log


# Starts the parse processes and is killed as soon as they exist, while they still load (an interpreter
# and the parser each: far longer than this takes to die).
KILLED_WHILE_STARTING = """
import multiprocessing, os, signal, threading, time
from app.hog import parse_pool
threading.Thread(target=parse_pool.start, daemon=True).start()
while len(multiprocessing.active_children()) < parse_pool.PROCESSES:
    time.sleep(0.001)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _with_marker(marker: str) -> list[int]:
    """Running processes whose environment holds `marker` (an orphan's parent is no longer ours)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and marker.encode() in (entry / "environ").read_bytes()
                and process_running(int(entry.name))
            ):
                found.append(int(entry.name))
        except OSError:
            pass  # gone, or not ours to read
    return found


def test_parse_processes_started_as_the_server_dies_end_too() -> None:
    marker = f"HOGFLOWS_TEST_MARKER={uuid.uuid4().hex}"
    name, value = marker.split("=")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_STARTING], cwd=ROOT, env={**base_env(), name: value}, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL
    assert _with_marker(marker), "no parse process was started"
    try:
        wait_until(lambda: not _with_marker(marker), within=30)
    finally:
        for pid in _with_marker(marker):
            os.kill(pid, signal.SIGKILL)
