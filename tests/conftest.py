"""Shared fixtures: a real database (PostgreSQL by default, SQLite on request), the real app, local servers."""

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.migrate import upgrade_to_head
from app.db.scratch import scratch_database
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.main import create_app
from app.services.bootstrap import Tenant, bootstrap_tenant
from tests.functions.servers import LocalHttpServer, LocalSmtpServer

POSTGRES_URL = "postgresql+asyncpg://127.0.0.1:5432/test"
REQUIRE_SERVICES = os.environ.get("HOGFLOWS_REQUIRE_SERVICES") == "1"
# Tests write logs, metrics and runs dated in the past on purpose: the sweeper's retention must leave them.
NO_RETENTION: dict[str, Any] = {
    "HOGFLOWS_LOG_RETENTION_DAYS": "0",
    "HOGFLOWS_METRIC_RETENTION_DAYS": "0",
    "HOGFLOWS_RUN_RETENTION_DAYS": "0",
}


def _database_url() -> str:
    url = os.environ.get("HOGFLOWS_TEST_DATABASE_URL", POSTGRES_URL)
    if url == "sqlite":
        return f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'test.sqlite3'}"
    return url


def service_unavailable(what: str, error: Exception) -> None:
    """A missing service fails the run in CI and skips locally."""
    message = f"{what} is not reachable: {error}"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A database of this test session's own, so concurrent runs never see each other's rows."""
    url = _database_url()
    if not url.startswith("postgresql"):
        yield url
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            scratch = await stack.enter_async_context(scratch_database(url, "hogflows_test"))
        except OSError as error:
            service_unavailable("PostgreSQL", error)
        yield scratch


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


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
async def app(database_url: str, engine: AsyncEngine) -> AsyncIterator[Any]:
    """The real app with its lifespan running (no Redis: runs execute in the embedded runner)."""
    # Workers in tests call local servers, and this app's in-process runner may pick their runs up too.
    # REDIS_URL=None: a REDIS_URL in the environment or .env must not send the tests to someone's Redis.
    settings = Settings(DATABASE_URL=database_url, REDIS_URL=None, HOGFLOWS_ALLOW_PRIVATE_FETCH=True, **NO_RETENTION)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


TenantFactory = Callable[..., Awaitable[Tenant]]


@pytest.fixture
def make_tenant(sessionmaker: async_sessionmaker[AsyncSession]) -> TenantFactory:
    async def factory(**kwargs: Any) -> Tenant:
        async with session_scope(sessionmaker) as session:
            return await bootstrap_tenant(session, **kwargs)

    return factory


@pytest.fixture
async def tenant(make_tenant: TenantFactory) -> Tenant:
    return await make_tenant()


@pytest.fixture
def http_server() -> Iterator[LocalHttpServer]:
    """A local HTTP destination for function steps, answering what a test scripts."""
    server = LocalHttpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server() -> Iterator[LocalSmtpServer]:
    server = LocalSmtpServer()
    server.start()
    yield server
    server.stop()
