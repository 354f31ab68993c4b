"""Driver reads (app/db/asyncpg_direct.py): a connection that failed or was interrupted never serves again."""

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, literal_column, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.asyncpg_direct import DriverRead

BACKEND_PID = DriverRead(select(func.pg_backend_pid().label("pid")))
SLEEP = DriverRead(select(func.pg_sleep(literal_column("30")).label("slept")))


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A pool of one: the read after a failure gets the same pool slot, so a reused dead or busy connection
    would show."""
    if not database_url.startswith("postgresql"):
        pytest.skip("driver reads run on asyncpg only")
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)
    engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    yield engine
    await engine.dispose()


async def _pid(engine: AsyncEngine) -> int:
    rows = await BACKEND_PID.rows(engine, {})
    return int(rows[0]["pid"])


async def test_a_dropped_connection_fails_as_a_database_error_once(
    one_connection: AsyncEngine, engine: AsyncEngine
) -> None:
    pid = await _pid(one_connection)
    async with engine.connect() as admin:
        assert (await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar()
    with pytest.raises(DBAPIError):
        await _pid(one_connection)
    assert await _pid(one_connection) != pid


async def test_an_interrupted_read_leaves_no_busy_connection_behind(
    one_connection: AsyncEngine, engine: AsyncEngine
) -> None:
    pid = await _pid(one_connection)
    sleeping = asyncio.create_task(SLEEP.rows(one_connection, {}))
    deadline = time.monotonic() + 10
    async with engine.connect() as admin:
        statement = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND query LIKE '%pg_sleep%'")
        while not (await admin.execute(statement, {"pid": pid})).scalar():
            assert time.monotonic() < deadline, "the read never started"
            await asyncio.sleep(0.02)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    started = time.monotonic()
    assert await _pid(one_connection) != pid
    assert time.monotonic() - started < 10
