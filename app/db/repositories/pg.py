"""The asyncpg connection under a session, for the capture pipeline's hot statements on PostgreSQL.

Through SQLAlchemy a statement costs several times the CPU of the same statement sent on the asyncpg
connection (building, compiling, binding, result rows); capture sends a few per group of requests,
so its repositories send those few directly, on the connection of the session's transaction, and
keep SQLAlchemy for everything else (and for SQLite, where `driver` answers None).

`write_session` is that transaction for the capture write: asyncpg holds it, and the session (bound
to the same connection, which SQLAlchemy sees in autocommit) runs its ORM statements inside it, so
both kinds of statement commit or roll back together, with no BEGIN or session machinery spent when
the ORM is not needed.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.session import session_scope

_DRIVER = "hogflows_asyncpg"


async def driver(session: AsyncSession) -> Any | None:
    """The asyncpg connection inside the session's transaction, or None when the database is not PostgreSQL."""
    cached = session.info.get(_DRIVER)
    if cached is not None:
        return cached
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    connection = await session.connection()
    raw: Any = (await connection.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        # SQLAlchemy's asyncpg adapter sends BEGIN with the session's first statement.
        await session.execute(text("SELECT 1"))
    return raw


@asynccontextmanager
async def write_session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work, like `session_scope`: committed on success, rolled back on any exception."""
    engine = sessionmaker.kw.get("bind")
    if engine is None or engine.dialect.name != "postgresql":
        async with session_scope(sessionmaker) as session:
            yield session
        return
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        raw: Any = (await connection.get_raw_connection()).driver_connection
        session = AsyncSession(bind=connection, expire_on_commit=False)
        session.info[_DRIVER] = raw
        try:
            async with raw.transaction():
                yield session
                if session.new or session.dirty or session.deleted:
                    await session.flush()
        finally:
            if session.in_transaction():
                await session.close()
            if raw.is_in_transaction():  # a rollback that failed: the connection must not go back to the pool
                await connection.invalidate()
