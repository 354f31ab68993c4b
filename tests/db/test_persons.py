"""Person upserts: `$set`, `$set_once`, bulk batches, concurrent creators and `$identify` merges."""

import asyncio
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.repositories.persons import PersonRepository, PersonUpdate
from app.db.session import session_scope
from app.services.bootstrap import Tenant


def did() -> str:
    return f"d-{uuid.uuid4().hex[:10]}"


async def test_set_and_set_once(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> None:
    distinct_id = did()
    async with session_scope(sessionmaker) as session:
        repo = PersonRepository(session)
        first = await repo.upsert(tenant.team_id, PersonUpdate(distinct_id, {"plan": "free"}, {"source": "ad"}))
        second = await repo.upsert(tenant.team_id, PersonUpdate(distinct_id, {"plan": "pro"}, {"source": "seo"}))
        assert first.id == second.id
        assert second.properties == {"plan": "pro", "source": "ad"}


async def test_bulk_upsert_mixes_new_and_existing(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    known = did()
    async with session_scope(sessionmaker) as session:
        await PersonRepository(session).upsert(tenant.team_id, PersonUpdate(known, {"n": 0, "keep": True}))
    changes = [PersonUpdate(known, {"n": 1})] + [PersonUpdate(f"bulk-{i}-{known}", {"n": i}) for i in range(2500)]
    changes.append(PersonUpdate(known, {"n": 2}))
    async with session_scope(sessionmaker) as session:
        people = await PersonRepository(session).upsert_many(tenant.team_id, changes)
    assert len(people) == 2501
    assert people[known].properties == {"n": 2, "keep": True}
    assert people[f"bulk-2499-{known}"].properties == {"n": 2499}


async def test_concurrent_creators_share_one_person(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant
) -> None:
    distinct_id = did()

    async def create(value: int) -> uuid.UUID:
        async with session_scope(sessionmaker) as session:
            return (await PersonRepository(session).upsert(tenant.team_id, PersonUpdate(distinct_id, {"v": value}))).id

    ids = set(await asyncio.gather(*(create(i) for i in range(5))))
    assert len(ids) == 1
    async with session_scope(sessionmaker) as session:
        person = await PersonRepository(session).get_by_distinct_id(tenant.team_id, distinct_id)
        assert person is not None and person.id in ids


async def test_identify_merges_anonymous_person(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> None:
    anonymous, user = did(), did()
    async with session_scope(sessionmaker) as session:
        repo = PersonRepository(session)
        await repo.upsert(tenant.team_id, PersonUpdate(anonymous, {"utm": "ad", "plan": "none"}))
        await repo.upsert(tenant.team_id, PersonUpdate(user, {"plan": "pro"}))
        merged = await repo.alias(tenant.team_id, user, anonymous)
        assert merged.properties == {"utm": "ad", "plan": "pro"}
        assert sorted(await repo.distinct_ids(merged.id)) == sorted([anonymous, user])
        fresh = did()
        same = await repo.alias(tenant.team_id, user, fresh)
        assert same.id == merged.id
        assert (await repo.get_by_distinct_id(tenant.team_id, fresh)).id == merged.id  # type: ignore[union-attr]
