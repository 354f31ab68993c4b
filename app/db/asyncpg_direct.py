"""Statements sent straight on the asyncpg connection, past SQLAlchemy, on the hot paths (PostgreSQL only).

Through SQLAlchemy a statement costs several times the CPU of the same statement sent on the asyncpg
connection (building, compiling, binding, the execution context, result rows). The hot paths send theirs
here, on a connection of the engine's own pool, and keep SQLAlchemy for everything else (and SQLite).
One way in per caller:

1. `DriverRead` (the API's flow reads): a Core statement compiled once, run on a pooled connection
   outside any transaction, so it sees what is committed, as the API's AUTOCOMMIT read engine does.
2. `driver_connection` and `session_driver_connection` (the worker): a pooled connection in a
   transaction of its own or in autocommit, or the connection under a session, in its transaction.
3. `WriteConnections` (capture): a team's consecutive groups on one held connection; each group's
   session (`WriteConnections.session`) gets the asyncpg connection (`driver(session)`) and a
   transaction begun only when needed: reads run before it, and a write that is one statement on its
   own (the usual group: runs, logs and metrics) needs neither BEGIN nor COMMIT. A write that must
   commit with another calls `begin(session)` first; any statement the session itself sends (ORM or
   Core) begins it too, so ORM writes never escape it (SQLAlchemy sees the connection in autocommit and
   sends its statements inside that transaction). A session may come `after` the team's previous group,
   still committing: its reads go at once, its transaction begins once that write is done, so two of a
   team's writes never hold locks at once and they commit in order.

The same rules for all three: an error surfaces as SQLAlchemy's `DBAPIError` without its parameters
(`driver_error`), so the API's 503 and the logs treat it as any other; a connection that failed is
invalidated, never handed out again; a connection found dead is raised as a disconnect, so
`retry_on_disconnect` applies. JSON values go in as text and come out decoded (SQLAlchemy's codecs on the
connection, with the engine's `json_deserializer`). Listeners of the engine's `before_cursor_execute` see
`DriverRead`'s statements (without a connection, cursor or context).

Two private attributes of SQLAlchemy's asyncpg adapter are used (`_transaction`, `_start_transaction`, to
join a session's transaction): they hold for the versions in requirements.lock.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, NoReturn

from sqlalchemy import Connection, Select, event
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from app.db.session import session_scope

# 1. The API's reads


class DriverRead:
    """A statement whose bound parameters are all named (`bindparam("team_id")`) and given to `rows`."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: tuple[str, tuple[str, ...]] | None = None

    async def rows(self, engine: AsyncEngine, params: dict[str, Any]) -> list[Mapping[str, Any]]:
        """The rows as read-only mappings: asyncpg's records (`row["name"]`, `in`, `keys()`, `values()`, as
        cheap to read as dicts and not copied), plain dicts on other drivers."""
        if engine.dialect.driver != "asyncpg":
            async with engine.connect() as connection:
                result = await connection.execute(self.statement, params)
                keys = list(result.keys())
                return [dict(zip(keys, row, strict=True)) for row in result]
        if self._compiled is None:
            compiled = self.statement.compile(dialect=engine.dialect)
            self._compiled = (str(compiled), tuple(compiled.positiontup or ()))
        sql, names = self._compiled
        arguments = [params[name] for name in names]
        dispatch = engine.sync_engine.dispatch
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(None, None, sql, arguments, None, False)
        pooled = await engine.raw_connection()
        raw: Any = pooled.driver_connection
        try:
            records = await raw.fetch(sql, *arguments)
        except BaseException as error:
            pooled.invalidate(error if isinstance(error, Exception) else None)
            if isinstance(error, Exception):
                raise driver_error(sql, error) from error
            raise
        finally:
            pooled.close()
        return records


# 2. The worker's statements


@asynccontextmanager
async def driver_connection(engine: AsyncEngine, *, transaction: bool) -> AsyncIterator[Any]:
    """A pooled connection's asyncpg connection, in a transaction of its own or in autocommit (PostgreSQL).

    For the worker's hottest statements: without SQLAlchemy's compile, ORM and greenlet layers a statement
    costs about a fifth of the CPU. JSON values go in as text and come out decoded (SQLAlchemy's codecs on
    the connection, with the engine's `json_deserializer`). A connection found dead is invalidated and
    raised as SQLAlchemy's disconnect error, so `retry_on_disconnect` applies as to any other unit of work.
    """
    async with engine.connect() as connection:
        raw: Any = (await connection.get_raw_connection()).driver_connection
        try:
            if transaction:
                async with raw.transaction():
                    yield raw
            else:
                yield raw
        except Exception as error:
            await _raise_as_disconnect(connection, raw, error)


async def session_driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under a session, inside the session's transaction (begun here if need be),
    which the session commits or rolls back as usual (PostgreSQL)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if adapter._transaction is None:
        # SQLAlchemy's asyncpg adapter begins its transaction lazily, at its first statement. BEGIN is the
        # first round-trip of the unit of work: a pooled connection found dead here is a disconnect.
        try:
            await adapter._start_transaction()
        except Exception as error:
            await _raise_as_disconnect(connection, raw.driver_connection, error)
    return raw.driver_connection


async def _raise_as_disconnect(connection: AsyncConnection, raw: Any, error: Exception) -> NoReturn:
    """Raise `error`: as SQLAlchemy's disconnect error, with the pooled connection invalidated, when it left the
    asyncpg connection closed (so `retry_on_disconnect` applies); as it is otherwise."""
    if raw is None or not raw.is_closed():
        raise error
    await _invalidate(connection)
    raise DBAPIError(None, None, error, connection_invalidated=True) from error


def driver_error(sql: str, error: Exception) -> StatementError:
    """An error of a statement sent on the asyncpg connection, as SQLAlchemy raises it through a session (so the
    API's 503 and the logs treat it alike), without its parameters: they may hold personal data."""
    return DBAPIError.instance(sql, None, error, Exception, hide_parameters=True)


async def _invalidate(connection: AsyncConnection) -> None:
    # Already dead: the pool drops it either way.
    with contextlib.suppress(Exception):
        await connection.invalidate()


# 3. Capture's writes

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
