"""Real arq workers in subprocesses, on the test session's database and a Redis of its own."""

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.config import Settings
from app.main import create_app
from tests.conftest import NO_RETENTION, service_unavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    # Only the database HOGFLOWS_TEST_REDIS_DB names is touched (and flushed): give each concurrent
    # test session on one machine its own number.
    url = f"redis://127.0.0.1:6379/{os.environ.get('HOGFLOWS_TEST_REDIS_DB', '15')}"
    client = Redis.from_url(url)
    try:
        await client.ping()
    except OSError as error:
        service_unavailable("Redis", error)
    finally:
        await client.aclose()
    yield url


@pytest.fixture(scope="session")
def queue_name() -> str:
    return f"hogflows-test:{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def worker_env(database_url: str, redis_url: str, queue_name: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        HOGFLOWS_QUEUE_NAME=queue_name,
        HOGFLOWS_SWEEP_INTERVAL="1",
        HOGFLOWS_LOG_LEVEL="WARNING",
        # Function steps in these tests call servers on 127.0.0.1.
        HOGFLOWS_ALLOW_PRIVATE_FETCH="true",
        **NO_RETENTION,
    )
    return env


class Workers:
    """Start and kill `hogflows worker` processes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


@pytest.fixture
def workers(worker_env: dict[str, str]) -> Iterator[Workers]:
    pool = Workers(worker_env)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
async def queue_app(database_url: str, redis_url: str, queue_name: str, engine: Any) -> AsyncIterator[Any]:
    """The API configured like production: new runs go to Redis for the worker pool."""
    application = create_app(Settings(DATABASE_URL=database_url, REDIS_URL=redis_url, HOGFLOWS_QUEUE_NAME=queue_name))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def queue_client(queue_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=queue_app), base_url="http://testserver") as c:
        yield c
