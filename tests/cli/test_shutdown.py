"""Stopping `hogflows serve` with a signal leaves an operator's log clean."""

import signal
from pathlib import Path

import pytest

from tests.polling import wait_until
from tests.serving import base_env, serving


def _children(pid: int) -> set[int]:
    """Children of every thread of `pid` (the kernel lists a child under the thread that started it)."""
    return {
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    }


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit is reaped by whoever adopts it, maybe late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    # uvicorn raises SIGTERM again once it has shut down (the exit handlers do not run); after SIGINT it returns.
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 0)],
)
def test_a_stopped_server_leaks_no_semaphores(tmp_path: Path, signum: signal.Signals, exit_code: int) -> None:
    env = base_env(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}")
    with serving(env, tmp_path / "serve.log") as serve:
        # The parse processes and multiprocessing's resource tracker, which warns (if at all) when it ends.
        children = _children(serve.popen.pid)
        assert len(children) >= 3 and "template_warm_up_incomplete" not in serve.log_text(), children
        serve.popen.send_signal(signum)
        assert serve.popen.wait(timeout=30) == exit_code, serve.log_text()
        wait_until(lambda: not any(_running(pid) for pid in children), within=30)
        log = serve.log_text()
    assert "Application shutdown complete" in log
    assert "leaked semaphore" not in log, log
