"""Capture's unit of work (`app.db.asyncpg_direct.WriteConnections`): statements sent on the asyncpg
connection and the session's own ORM statements commit or roll back together, and the connection held
across writes survives a failed one."""

import asyncio
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.db.asyncpg_direct import WriteConnections
from app.db.repositories.persons import PersonRepository, PersonUpdate
from app.db.session import create_sessionmaker, session_scope
from app.services.bootstrap import Tenant


def did() -> str:
    return f"w-{uuid.uuid4().hex[:10]}"


class Boom(Exception):
    pass


async def person_of(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, distinct_id: str) -> object:
    async with session_scope(sessionmaker) as session:
        return await PersonRepository(session).get_by_distinct_id(tenant.team_id, distinct_id)


async def test_a_failed_write_leaves_nothing(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> None:
    created, merged_into, anonymous = did(), did(), did()
    async with session_scope(sessionmaker) as session:
        await PersonRepository(session).upsert(tenant.team_id, PersonUpdate(merged_into, {"plan": "pro"}))
    connections = WriteConnections(sessionmaker)
    try:
        with pytest.raises(Boom):
            async with connections.session() as session:
                # asyncpg statements (which begin the transaction themselves)
                await PersonRepository(session).upsert_rows(tenant.team_id, [PersonUpdate(created, {"a": 1})])
                raise Boom()
        with pytest.raises(Boom):
            async with connections.session() as session:
                # ORM statements first: the session begins the transaction
                await PersonRepository(session).alias(tenant.team_id, merged_into, anonymous)
                raise Boom()
        assert await person_of(sessionmaker, tenant, created) is None
        assert await person_of(sessionmaker, tenant, anonymous) is None
        # The next write works, on a fresh connection, and commits.
        async with connections.session() as session:
            rows = await PersonRepository(session).upsert_rows(tenant.team_id, [PersonUpdate(created, {"a": 2})])
    finally:
        await connections.close()
    person = await person_of(sessionmaker, tenant, created)
    assert person is not None and person.properties == {"a": 2}  # type: ignore[attr-defined]
    assert (rows[created].id, rows[created].properties) == (person.id, {"a": 2})  # type: ignore[attr-defined]


async def test_writes_in_a_row_share_a_connection_and_each_commits(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    first, second = did(), did()
    connections = WriteConnections(sessionmaker)
    try:
        async with connections.session() as session:
            await PersonRepository(session).upsert_rows(tenant.team_id, [PersonUpdate(first, {"n": 1})])
        assert await person_of(sessionmaker, tenant, first) is not None  # committed before the next write
        async with connections.session() as session:
            rows = await PersonRepository(session).upsert_rows(
                tenant.team_id, [PersonUpdate(first, {"n": 2}, {"once": True}), PersonUpdate(second)]
            )
    finally:
        await connections.close()
    assert rows[first].properties == {"n": 2, "once": True} and rows[second].properties == {}
    person = await person_of(sessionmaker, tenant, first)
    assert person is not None and person.properties == {"n": 2, "once": True}  # type: ignore[attr-defined]


async def test_concurrent_capture_writers_share_one_person(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    distinct_id = did()

    async def create(value: int) -> uuid.UUID:
        connections = WriteConnections(sessionmaker)
        try:
            async with connections.session() as session:
                rows = await PersonRepository(session).upsert_rows(
                    tenant.team_id, [PersonUpdate(distinct_id, {"v": value})]
                )
                return rows[distinct_id].id
        finally:
            await connections.close()

    ids = set(await asyncio.gather(*(create(n) for n in range(5))))
    assert len(ids) == 1
    person = await person_of(sessionmaker, tenant, distinct_id)
    assert person is not None and person.id in ids  # type: ignore[attr-defined]


async def test_the_connection_goes_back_to_the_pool_as_it_came(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("capture holds its transaction on asyncpg only on PostgreSQL")
    engine = create_async_engine(database_url, pool_size=1, max_overflow=0)  # one connection: the same one again
    try:
        connections = WriteConnections(create_sessionmaker(engine))
        async with connections.session():
            pass
        await connections.close()
        async with engine.connect() as connection:  # not autocommit any more: a rollback undoes
            await connection.execute(text("CREATE TEMPORARY TABLE rolled_back (x int)"))
            await connection.rollback()
            assert await connection.scalar(text("SELECT to_regclass('pg_temp.rolled_back')")) is None
    finally:
        await engine.dispose()
