"""Persons by distinct id or id."""

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Person, PersonDistinctId


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_distinct_id(self, team_id: int, distinct_id: str) -> Person | None:
        statement = (
            select(Person)
            .join(PersonDistinctId, PersonDistinctId.person_id == Person.id)
            .where(PersonDistinctId.team_id == team_id, PersonDistinctId.distinct_id == distinct_id)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, team_id: int, person_id: UUID) -> Person | None:
        person = await self.session.get(Person, person_id)
        return person if person is not None and person.team_id == team_id else None

    async def distinct_ids(self, person_id: UUID) -> list[str]:
        statement = select(PersonDistinctId.distinct_id).where(PersonDistinctId.person_id == person_id)
        return list((await self.session.execute(statement)).scalars().all())

    async def create(self, team_id: int, distinct_id: str, properties: dict[str, object]) -> Person:
        person = Person(team_id=team_id, properties=properties)
        self.session.add(person)
        await self.session.flush()
        self.session.add(PersonDistinctId(team_id=team_id, distinct_id=distinct_id, person_id=person.id))
        await self.session.flush()
        return person
