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
from app.db.migrate import upgrade_to_head
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.main import create_app
from app.services.bootstrap import Tenant, bootstrap_tenant
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
        # Teardown terminates workers: a short drain keeps it quick.
        HOGFLOWS_SHUTDOWN_GRACE="2",
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

    def start(self, output: Path | None = None, **env: str) -> subprocess.Popen[bytes]:
        """A worker with the pool's environment plus `env`; its stdout and stderr go to `output` when given."""
        sink = output.open("ab") if output is not None else subprocess.DEVNULL
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "worker"],
                cwd=ROOT,
                env={**self.env, **env},
                stdout=sink,
                stderr=subprocess.STDOUT if output is not None else subprocess.DEVNULL,
            )
        finally:
            if output is not None:
                sink.close()  # type: ignore[union-attr]
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


# A database, queue, API client and worker pool of the test module's own, for tests that leave a backlog
# or need workers with short leases. Worker settings: a 4 s run lease, a 2 s sweep grace, JSON logs.
MODULE_LEASE = 4.0
MODULE_GRACE = 2.0


@pytest.fixture(scope="module")
async def module_database_url(database_url: str) -> AsyncIterator[str]:
    if not database_url.startswith("postgresql"):
        pytest.skip("worker processes share the database over PostgreSQL")
    async with scratch_database(database_url, "hogflows_mod") as url:
        engine = create_engine(url)
        await upgrade_to_head(engine)
        await engine.dispose()
        yield url


@pytest.fixture(scope="module")
def module_queue() -> str:
    return f"hogflows-test-mod:{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def module_client(
    module_database_url: str, redis_url: str, module_queue: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(DATABASE_URL=module_database_url, REDIS_URL=redis_url, HOGFLOWS_QUEUE_NAME=module_queue)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def new_tenant(database_url: str) -> Tenant:
    engine = create_engine(database_url)
    async with session_scope(create_sessionmaker(engine)) as session:
        made = await bootstrap_tenant(session)
    await engine.dispose()
    return made


@pytest.fixture
async def module_tenant(module_database_url: str) -> Tenant:
    return await new_tenant(module_database_url)


@pytest.fixture
def module_workers(worker_env: dict[str, str], module_database_url: str, module_queue: str) -> Iterator[Workers]:
    env = {
        **worker_env,
        "DATABASE_URL": module_database_url,
        "HOGFLOWS_QUEUE_NAME": module_queue,
        "HOGFLOWS_ALLOW_PRIVATE_FETCH": "true",
        "HOGFLOWS_FETCH_TIMEOUT": "60",
        "HOGFLOWS_RUN_LEASE_SECONDS": str(MODULE_LEASE),
        "HOGFLOWS_SWEEP_GRACE": str(int(MODULE_GRACE)),
        "HOGFLOWS_SWEEP_INTERVAL": "1",
        "HOGFLOWS_LOG_LEVEL": "INFO",
        "HOGFLOWS_LOG_JSON": "true",
    }
    pool = Workers(env)
    yield pool
    pool.stop_all()
