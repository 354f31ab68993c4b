"""Engines and sessions. The API gets one session per request; jobs get one per unit of work."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def _json_contains(container: Any, contained: Any) -> bool:
    """PostgreSQL's `@>` for JSON values, so SQLite can answer the same list filter."""
    if isinstance(container, dict) and isinstance(contained, dict):
        return all(k in container and _json_contains(container[k], v) for k, v in contained.items())
    if isinstance(container, list) and isinstance(contained, list):
        return all(any(_json_contains(item, want) for item in container) for want in contained)
    if isinstance(container, list) and not isinstance(contained, (dict, list)):
        return contained in container
    return bool(container == contained)


def _sqlite_json_contains(container: str | None, contained: str | None) -> int:
    if container is None or contained is None:
        return 0
    return int(_json_contains(json.loads(container), json.loads(contained)))


STATEMENT_LIFETIME_SECONDS = 20


def create_engine(database_url: str, **options: Any) -> AsyncEngine:
    # SQL parameters hold tokens and personal data: errors and logs never show them.
    options.setdefault("hide_parameters", True)
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 30}, **options)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.create_function("json_contains", 2, _sqlite_json_contains, deterministic=True)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    # No ping per checkout (it costs a round-trip per session); connections are recycled before servers or
    # proxies drop idle ones, and the worker's transactions retry once on a connection found dead.
    # Statements sent on the asyncpg connection are prepared once and cached, and PostgreSQL plans a prepared
    # statement once for all: a plan made while a table was small (a new database) scans it whole on every call
    # as it grows, until the statement is prepared again. Each is prepared again after this many seconds.
    connect_args = {"max_cached_statement_lifetime": STATEMENT_LIFETIME_SECONDS, **options.pop("connect_args", {})}
    return create_async_engine(
        database_url,
        pool_pre_ping=False,
        pool_recycle=300,
        pool_size=10,
        max_overflow=10,
        connect_args=connect_args,
        **options,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def session_scope(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any exception."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


T = TypeVar("T")


async def retry_on_disconnect(operation: Callable[[], Awaitable[T]], attempts: int = 2) -> T:
    """Run a unit of work again when it failed because its pooled connection was dead.

    Only for work that is safe to repeat (claims are conditional updates; results are fenced by lease).
    """
    for attempt in range(1, attempts + 1):
        try:
            return await operation()
        except DBAPIError as error:
            if not error.connection_invalidated or attempt == attempts:
                raise
    raise AssertionError("unreachable")


__all__ = [
    "create_engine",
    "create_sessionmaker",
    "retry_on_disconnect",
    "session_scope",
]
