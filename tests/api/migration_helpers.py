"""A database of a test's own at head, and alembic moves on it, for the tests of data migrations."""

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.migrate import alembic_config, upgrade_to_head
from app.db.scratch import scratch_database
from app.db.session import create_engine


@contextlib.asynccontextmanager
async def own_database(database_url: str, tmp_path: Path, name: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a database at head that no other test uses (a migration rewrites every row): a scratch
    PostgreSQL database, or a SQLite file in `tmp_path`."""
    async with contextlib.AsyncExitStack() as stack:
        if database_url.startswith("postgresql"):
            url = await stack.enter_async_context(scratch_database(database_url, name))
        else:
            url = f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite3'}"
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        await upgrade_to_head(engine)
        yield engine


async def migrate(engine: AsyncEngine, target: str) -> None:
    """Upgrade to `head`, or downgrade to the revision `target`."""

    def move(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        (command.downgrade if target != "head" else command.upgrade)(config, target)

    async with engine.begin() as connection:
        await connection.run_sync(move)
