"""Prebuilt read statements run straight on the pooled asyncpg connection, for the API's hottest reads.

SQLAlchemy's `Connection`, execution context and result cost three times the statement's own work on a
cached flow read. `DriverRead` compiles a Core statement once and runs it on the asyncpg connection of a
connection checked out of the engine's own pool, outside any transaction (each statement sees what is
committed, as the API's AUTOCOMMIT read engine does). Failures surface as SQLAlchemy's `DBAPIError`, as
through a `Connection`, and the connection is dropped from the pool (a dead or cancelled connection is
never handed out again). Listeners of the engine's `before_cursor_execute` see the statement (without a
connection, cursor or context). Other drivers (SQLite) run the statement through a `Connection`.
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.session import driver_error


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
        raw = await engine.raw_connection()
        driver: Any = raw.driver_connection
        try:
            records = await driver.fetch(sql, *arguments)
        except BaseException as error:
            raw.invalidate(error if isinstance(error, Exception) else None)
            if isinstance(error, Exception):
                raise driver_error(sql, error) from error
            raise
        finally:
            raw.close()
        return records
