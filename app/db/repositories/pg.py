"""The asyncpg connection under a session, for the capture pipeline's hot statements on PostgreSQL.

Through SQLAlchemy a statement costs several times the CPU of the same statement sent on the asyncpg
connection (building, compiling, binding, result rows); capture sends a few per group of requests,
so its repositories send those few directly, on the connection of the session's transaction, and
keep SQLAlchemy for everything else (other sessions, and SQLite, where `driver` answers None).

`WriteConnections.session` is the unit of work of a capture write. asyncpg holds its transaction,
begun only when needed: reads run before it, and a write that is one statement on its own (the usual
group: runs, logs and metrics in one statement) needs neither BEGIN nor COMMIT, two round trips fewer.
A write that must commit with another calls `begin(session)` first; any statement the session itself
sends (ORM or Core) begins it too, so ORM writes can never escape it. SQLAlchemy sees the connection in
autocommit and sends its statements inside that same transaction.

A session may be given the write it comes `after` (the team's previous capture group, still committing):
its reads go at once, but its transaction begins only once that write is done, so two of a team's writes
never hold locks at the same time (neither can wait on the other) and commit in order.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from app.db.session import driver_error, session_scope

_DRIVER = "hogflows_asyncpg"
_LAZY = "hogflows_lazy_transaction"


class _LazyTransaction:
    def __init__(self, raw: Any, after: "asyncio.Future[Any] | None") -> None:
        self.raw = raw
        self.after = after
        self.transaction: Any = None

    async def begin(self) -> None:
        if self.transaction is None:
            await self.wait_after()
            transaction = self.raw.transaction()
            await transaction.start()
            self.transaction = transaction

    async def wait_after(self) -> None:
        if self.after is not None and not self.after.done():
            await asyncio.wait([self.after])


class Driver:
    """The asyncpg connection of a capture session. Its errors surface as SQLAlchemy's `DBAPIError`, as they
    would through the session: a database that does not answer is a 503, and no message shows parameters."""

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def execute(self, sql: str, *args: Any) -> str:
        try:
            return str(await self.raw.execute(sql, *args))
        except Exception as error:
            raise driver_error(sql, error) from error

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        try:
            return list(await self.raw.fetch(sql, *args))
        except Exception as error:
            raise driver_error(sql, error) from error


def driver(session: AsyncSession) -> Driver | None:
    """The asyncpg connection of a capture session (`WriteConnections.session`), or None: other sessions (and
    SQLite) keep SQLAlchemy, whose handling of lost connections the worker's retries rely on. Statements
    sent on it are inside the session's transaction once `begin` was called."""
    found: Driver | None = session.info.get(_DRIVER)
    return found


async def begin(session: AsyncSession) -> None:
    """Call before a write that must commit with the session's other writes. Sessions other than capture's
    (`WriteConnections.session`) are always in a transaction: nothing to do."""
    lazy: _LazyTransaction | None = session.info.get(_LAZY)
    if lazy is not None:
        await lazy.begin()


def began(session: AsyncSession) -> bool:
    """Whether the session's transaction has begun (always, outside capture's sessions): a capture group
    that has not begun one before its last statement wrote nothing before it."""
    lazy: _LazyTransaction | None = session.info.get(_LAZY)
    return lazy is None or lazy.transaction is not None


async def after_previous(session: AsyncSession) -> None:
    """Wait until the write the session comes after (`WriteConnections.session`) is done."""
    lazy: _LazyTransaction | None = session.info.get(_LAZY)
    if lazy is not None:
        await lazy.wait_after()


@event.listens_for(Session, "after_begin")
def _begin_before_the_session_sends(session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
    lazy: _LazyTransaction | None = session.info.get(_LAZY)
    if lazy is not None and lazy.transaction is None:
        # Called in SQLAlchemy's greenlet before the statement that began the session goes out.
        connection.connection.dbapi_connection.run_async(lambda _raw: lazy.begin())  # type: ignore[union-attr]


class WriteConnections:
    """Capture writes that follow each other (a busy team's groups) on one connection of the engine's pool,
    checked out and set up once for the run of them rather than once per write. A write that fails gives
    its connection back; the next one takes a fresh one. `close` when the run is over."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._held: tuple[AsyncConnection, Any] | None = None

    @asynccontextmanager
    async def session(self, after: "asyncio.Future[Any] | None" = None) -> AsyncIterator[AsyncSession]:
        """One unit of work, like `session_scope`: committed on success, rolled back on any exception. With
        `after`, its transaction begins once `after` is done (elsewhere than on PostgreSQL, the session
        itself waits for it)."""
        engine = self.sessionmaker.kw.get("bind")
        if engine is None or engine.dialect.name != "postgresql":
            if after is not None and not after.done():
                await asyncio.wait([after])
            async with session_scope(self.sessionmaker) as session:
                yield session
            return
        if self._held is None:
            connection = await engine.connect()
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            self._held = (connection, (await connection.get_raw_connection()).driver_connection)
        connection, raw = self._held
        lazy = _LazyTransaction(raw, after)
        session = AsyncSession(bind=connection, expire_on_commit=False)
        session.info[_DRIVER] = Driver(raw)
        session.info[_LAZY] = lazy
        done = False
        try:
            yield session
            if session.new or session.dirty or session.deleted:
                await session.flush()
            if lazy.transaction is not None:
                await lazy.transaction.commit()
            done = True
        except BaseException:
            if lazy.transaction is not None and raw.is_in_transaction():
                with contextlib.suppress(Exception):
                    await lazy.transaction.rollback()
            raise
        finally:
            if session.in_transaction():
                await session.close()
            if not done:
                # A failed write may have lost its connection (asyncpg's errors do not tell the pool): it is
                # never handed out again.
                self._held = None
                await connection.invalidate()
                await connection.close()

    async def close(self) -> None:
        if self._held is not None:
            connection, self._held = self._held[0], None
            await connection.close()
