"""Run alembic migrations from inside the service (serve, worker, migrate, bootstrap, tests).

Every process may migrate at start: on PostgreSQL the upgrade runs under a transaction-scoped advisory
lock, so processes starting together take turns and all but the first find the schema at head.
"""

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

# The migrations ship inside the installed package, so this works outside a source checkout too.
SCRIPT_LOCATION = Path(migrations.__file__).resolve().parent
# Any fixed 64-bit number of our own; other applications sharing the database use other keys.
MIGRATION_LOCK_KEY = 0x686F67666C6F7773  # "hogflows"


class SchemaNotAtHead(Exception):
    """The database schema is not the one this code expects (and migrating was not asked for)."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current, self.head = current, head
        super().__init__(
            f"database schema is at {current or 'nothing (empty database)'}, this version needs {head}: "
            "run `hogflows migrate` or start without --no-migrate"
        )


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations have more than one head"
    return head


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_to_head(engine: AsyncEngine) -> None:
    def _upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        if _current_revision(connection) == head_revision():
            return
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def schema_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


async def require_head(engine: AsyncEngine) -> None:
    current, head = await schema_revision(engine), head_revision()
    if current != head:
        raise SchemaNotAtHead(current, head)
