"""Real arq workers in subprocesses, on the test session's database and a Redis of its own."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db.migrate import upgrade_to_head
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.main import create_app
from app.services.bootstrap import Tenant, bootstrap_tenant
from tests.conftest import NO_RETENTION
from tests.serving import Workers, app_client


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


# A database, queue, API client and worker pool of the test module's own, for tests that leave a backlog,
# need workers with settings of their own, or let workers call local servers (the session's database may
# also be served by the in-process runner of the API tests' app, whose settings refuse them).


@pytest.fixture(params=["embedded", "worker"])
def runner(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    """The API client whose runs execute on the embedded runner, or on a real worker process."""
    if request.param == "worker":
        workers: Workers = request.getfixturevalue("workers")
        workers.start()
        return request.getfixturevalue("queue_client")
    return request.getfixturevalue("client")


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
    async with app_client(settings) as client:
        yield client


async def new_tenant(database_url: str) -> Tenant:
    engine = create_engine(database_url)
    async with session_scope(create_sessionmaker(engine)) as session:
        made = await bootstrap_tenant(session)
    await engine.dispose()
    return made


@pytest.fixture
async def module_tenant(module_database_url: str) -> Tenant:
    return await new_tenant(module_database_url)


def module_owned(env: dict[str, str] | None = None, *, start: int = 0) -> tuple[Any, Any, Any]:
    """Fixtures for the module to name (`client, tenant, workers = module_owned(...)` at its top level): its
    own API client, a new tenant per test, and workers on its own database and queue with `env` over
    `worker_env`, `start` of them started before the test."""

    @pytest.fixture
    def client(module_client: httpx.AsyncClient) -> httpx.AsyncClient:
        return module_client

    @pytest.fixture
    def tenant(module_tenant: Tenant) -> Tenant:
        return module_tenant

    @pytest.fixture
    def workers(worker_env: dict[str, str], module_database_url: str, module_queue: str) -> Iterator[Workers]:
        own = {"DATABASE_URL": module_database_url, "HOGFLOWS_QUEUE_NAME": module_queue}
        pool = Workers({**worker_env, **own, **(env or {})})
        for _ in range(start):
            pool.start()
        yield pool
        pool.stop_all()

    return client, tenant, workers


# Worker settings of the modules that kill workers or let them take runs over: a 4 s run lease, a 2 s
# sweep grace, JSON logs.
MODULE_LEASE = 4.0
MODULE_GRACE = 2.0
SHORT_LEASES = {
    "HOGFLOWS_FETCH_TIMEOUT": "60",
    "HOGFLOWS_RUN_LEASE_SECONDS": str(MODULE_LEASE),
    "HOGFLOWS_SWEEP_GRACE": str(int(MODULE_GRACE)),
    "HOGFLOWS_LOG_LEVEL": "INFO",
    "HOGFLOWS_LOG_JSON": "true",
}
