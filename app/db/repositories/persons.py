"""Persons by distinct id or id, and upserts of their properties.

`upsert_rows` is capture's form of `upsert_many`: plain rows instead of ORM objects, a few statements
sent on the asyncpg connection on PostgreSQL (`app.db.asyncpg_direct`), and no write at all for the
persons an event leaves unchanged.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import json_codec
from app.db.asyncpg_direct import Driver, begin, driver
from app.db.base import utcnow, uuid7
from app.db.models import HogFlowRunWait, Person, PersonDistinctId

# Keeps each `IN (...)` list well under database parameter limits.
_CHUNK = 1000


@dataclass
class PersonUpdate:
    """What an event or an API call says about a person: `$set` and `$set_once` properties."""

    distinct_id: str
    set: dict[str, Any] = field(default_factory=dict)
    set_once: dict[str, Any] = field(default_factory=dict)


def apply_update(properties: dict[str, Any], change: PersonUpdate) -> dict[str, Any]:
    merged = {**change.set_once, **properties}
    merged.update(change.set)
    return merged


@dataclass(slots=True)
class PersonRow:
    """A person as capture reads it. `waiting`: it may have unmatched wait registrations (False only when
    known to have none), so capture looks for them only then."""

    id: UUID
    properties: dict[str, Any]
    waiting: bool = True


def _merged_changes(changes: Sequence[PersonUpdate]) -> dict[str, PersonUpdate]:
    """One update per distinct id, in first-seen order: later `$set` wins, earlier `$set_once` wins."""
    merged: dict[str, PersonUpdate] = {}
    for change in changes:
        previous = merged.get(change.distinct_id)
        if previous is None:
            merged[change.distinct_id] = PersonUpdate(change.distinct_id, dict(change.set), dict(change.set_once))
        else:
            previous.set.update(change.set)
            previous.set_once = {**change.set_once, **previous.set_once}
    return merged


def _json(value: Any) -> str:
    return json_codec.dumps(value).decode()


# Capture's statements (PostgreSQL); rows go as one JSON array (see app/db/repositories/observability.py).
# `waiting`: any unmatched registration of the person (index on team, person).
_SELECT_ROWS = """
SELECT d.distinct_id, p.id, p.properties, EXISTS (
    SELECT 1 FROM hog_flow_run_waits w WHERE w.team_id = $1 AND w.person_id = p.id AND w.matched_at IS NULL
)
FROM person_distinct_ids d JOIN persons p ON p.id = d.person_id
WHERE d.team_id = $1 AND d.distinct_id = ANY($2::varchar[])
"""
# A person is inserted only with the distinct id it claimed: one that another writer claimed first keeps its
# person (re-read after), and no orphan is left. The foreign key is checked at the end of the statement.
_CREATE_ROWS = """
WITH input AS (
    SELECT * FROM json_to_recordset($2::json) AS r (id uuid, distinct_id varchar, properties jsonb)
), claimed AS (
    INSERT INTO person_distinct_ids (team_id, distinct_id, person_id)
    SELECT $1, distinct_id, id FROM input
    ON CONFLICT (team_id, distinct_id) DO NOTHING
    RETURNING distinct_id
)
INSERT INTO persons (id, team_id, properties, created_at, updated_at)
SELECT input.id, $1, input.properties, $3, $3 FROM input JOIN claimed USING (distinct_id)
"""
_UPDATE_ROWS = """
UPDATE persons SET properties = v.properties, updated_at = $1
FROM json_to_recordset($2::json) AS v (id uuid, properties jsonb) WHERE persons.id = v.id
"""


class PersonRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self, table: Any) -> Any:
        dialect = self.session.bind.dialect.name if self.session.bind is not None else "postgresql"
        return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)

    async def get_by_distinct_id(self, team_id: int, distinct_id: str) -> Person | None:
        statement = (
            select(Person)
            .join(PersonDistinctId, PersonDistinctId.person_id == Person.id)
            .where(PersonDistinctId.team_id == team_id, PersonDistinctId.distinct_id == distinct_id)
            # `upsert_rows` writes around the ORM: an object it loaded before must not keep old properties.
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, team_id: int, person_id: UUID) -> Person | None:
        person = await self.session.get(Person, person_id)
        return person if person is not None and person.team_id == team_id else None

    async def distinct_ids(self, person_id: UUID) -> list[str]:
        statement = select(PersonDistinctId.distinct_id).where(PersonDistinctId.person_id == person_id)
        return list((await self.session.execute(statement)).scalars().all())

    async def create(self, team_id: int, distinct_id: str, properties: dict[str, Any]) -> Person:
        person = Person(team_id=team_id, properties=properties)
        self.session.add(person)
        await self.session.flush()
        self.session.add(PersonDistinctId(team_id=team_id, distinct_id=distinct_id, person_id=person.id))
        await self.session.flush()
        return person

    async def upsert(self, team_id: int, change: PersonUpdate) -> Person:
        """Find or create the person behind a distinct id and apply `$set` / `$set_once`."""
        people = await self.upsert_many(team_id, [change])
        return people[change.distinct_id]

    async def upsert_many(self, team_id: int, changes: Sequence[PersonUpdate]) -> dict[str, Person]:
        """Bulk form of `upsert`: a few statements per thousand distinct ids, whatever the batch size."""
        merged = _merged_changes(changes)
        existing = await self._by_distinct_ids(team_id, merged)
        missing = [distinct_id for distinct_id in merged if distinct_id not in existing]
        if missing:
            await self._create_many(team_id, [merged[d] for d in missing])
            existing.update(await self._by_distinct_ids(team_id, missing))
        now = utcnow()
        for distinct_id, change in merged.items():
            person = existing[distinct_id]
            properties = apply_update(dict(person.properties or {}), change)
            if properties != person.properties:
                person.properties = properties
                person.updated_at = now
        await self.session.flush()
        return existing

    async def upsert_rows(self, team_id: int, changes: Sequence[PersonUpdate]) -> dict[str, PersonRow]:
        """`upsert_many` for capture: the same writes, returned as rows. Persons whose properties do not change
        are not written."""
        connection = driver(self.session)
        if connection is None:
            people = await self.upsert_many(team_id, changes)
            return {distinct_id: PersonRow(p.id, p.properties or {}) for distinct_id, p in people.items()}
        merged = _merged_changes(changes)
        found = await self._rows(connection, team_id, list(merged))
        now = utcnow()
        missing = [change for distinct_id, change in merged.items() if distinct_id not in found]
        if missing:
            await begin(self.session)
            created = [PersonRow(uuid7(), apply_update({}, change), waiting=False) for change in missing]
            status = await connection.execute(
                _CREATE_ROWS,
                team_id,
                _json(
                    [
                        {"id": str(row.id), "distinct_id": change.distinct_id, "properties": row.properties}
                        for change, row in zip(missing, created, strict=True)
                    ]
                ),
                now,
            )
            if int(status.rsplit(" ", 1)[1]) == len(missing):
                found.update((change.distinct_id, row) for change, row in zip(missing, created, strict=True))
            else:  # another writer created some of them first
                found.update(await self._rows(connection, team_id, [change.distinct_id for change in missing]))
        changed: dict[UUID, PersonRow] = {}
        for distinct_id, change in merged.items():
            if not (change.set or change.set_once):
                continue
            row = found[distinct_id]  # distinct ids of one person share it: their changes add up
            properties = apply_update(row.properties, change)
            if properties != row.properties:
                row.properties = properties
                changed[row.id] = row
        if changed:
            await begin(self.session)
            rows = list(changed.values())
            await connection.execute(
                _UPDATE_ROWS, now, _json([{"id": str(row.id), "properties": row.properties} for row in rows])
            )
        return found

    async def _rows(self, connection: Driver, team_id: int, distinct_ids: list[str]) -> dict[str, PersonRow]:
        rows = await connection.fetch(_SELECT_ROWS, team_id, distinct_ids)
        people: dict[UUID, PersonRow] = {}
        found: dict[str, PersonRow] = {}
        for distinct_id, person_id, properties, waiting in rows:
            # Distinct ids of one person share its row, as ORM objects share an identity.
            row = people.get(person_id)
            if row is None:
                row = people[person_id] = PersonRow(person_id, properties or {}, waiting)
            found[distinct_id] = row
        return found

    async def _by_distinct_ids(self, team_id: int, distinct_ids: Iterable[str]) -> dict[str, Person]:
        found: dict[str, Person] = {}
        wanted = list(distinct_ids)
        for start in range(0, len(wanted), _CHUNK):
            statement = (
                select(PersonDistinctId.distinct_id, Person)
                .join(Person, Person.id == PersonDistinctId.person_id)
                .where(
                    PersonDistinctId.team_id == team_id,
                    PersonDistinctId.distinct_id.in_(wanted[start : start + _CHUNK]),
                )
            )
            found.update({row[0]: row[1] for row in (await self.session.execute(statement)).all()})
        return found

    async def _create_many(self, team_id: int, changes: Sequence[PersonUpdate]) -> None:
        """Insert persons and their distinct ids; a distinct id another writer claimed first keeps its person."""
        now = utcnow()
        rows = [(uuid7(), change) for change in changes]
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            await self.session.execute(
                self._insert(Person),
                [
                    {
                        "id": pid,
                        "team_id": team_id,
                        "properties": apply_update({}, change),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for pid, change in chunk
                ],
            )
            await self.session.execute(
                self._insert(PersonDistinctId).on_conflict_do_nothing(index_elements=["team_id", "distinct_id"]),
                [{"team_id": team_id, "distinct_id": change.distinct_id, "person_id": pid} for pid, change in chunk],
            )
        # Persons whose distinct id lost the race have no distinct id: drop them.
        created = [pid for pid, _ in rows]
        for start in range(0, len(created), _CHUNK):
            orphan_ids = select(Person.id).where(
                Person.id.in_(created[start : start + _CHUNK]),
                ~select(PersonDistinctId.id).where(PersonDistinctId.person_id == Person.id).exists(),
            )
            await self.session.execute(delete(Person).where(Person.id.in_(orphan_ids)))

    async def alias(self, team_id: int, distinct_id: str, anonymous_id: str) -> Person:
        """`$identify`: `anonymous_id` becomes another id of the person behind `distinct_id`."""
        person = await self.get_by_distinct_id(team_id, distinct_id)
        anonymous = await self.get_by_distinct_id(team_id, anonymous_id)
        if person is None and anonymous is None:
            person = await self.upsert(team_id, PersonUpdate(distinct_id))
            await self._point(team_id, anonymous_id, person.id)
            return person
        if person is None:
            assert anonymous is not None
            await self._point(team_id, distinct_id, anonymous.id)
            return anonymous
        if anonymous is not None and anonymous.id != person.id:
            # Merge: the identified person keeps its values, gains what only the anonymous one knew.
            person.properties = {**(anonymous.properties or {}), **(person.properties or {})}
            await self.session.execute(
                update(PersonDistinctId).where(PersonDistinctId.person_id == anonymous.id).values(person_id=person.id)
            )
            # Runs that wait for the anonymous person's events now wait for the merged person's.
            await self.session.execute(
                update(HogFlowRunWait).where(HogFlowRunWait.person_id == anonymous.id).values(person_id=person.id)
            )
            await self.session.delete(anonymous)
        elif anonymous is None:
            await self._point(team_id, anonymous_id, person.id)
        await self.session.flush()
        return person

    async def _point(self, team_id: int, distinct_id: str, person_id: UUID) -> None:
        await self.session.execute(
            self._insert(PersonDistinctId)
            .values(team_id=team_id, distinct_id=distinct_id, person_id=person_id)
            .on_conflict_do_nothing(index_elements=["team_id", "distinct_id"])
        )

    # --- the persons API ---------------------------------------------------------------------------

    async def list_page(
        self, team_id: int, *, distinct_id: str | None, search: str | None, limit: int, offset: int
    ) -> tuple[int, list[Person]]:
        """Persons of a team, newest first; `distinct_id` exact, `search` in distinct ids, email and name."""
        statement = select(Person).where(Person.team_id == team_id)
        if distinct_id is not None:
            statement = statement.where(
                select(PersonDistinctId.id)
                .where(PersonDistinctId.person_id == Person.id, PersonDistinctId.distinct_id == distinct_id)
                .exists()
            )
        if search:
            escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{escaped}%"
            statement = statement.where(
                or_(
                    select(PersonDistinctId.id)
                    .where(
                        PersonDistinctId.person_id == Person.id,
                        PersonDistinctId.distinct_id.ilike(pattern, escape="\\"),
                    )
                    .exists(),
                    self._property_text("email").ilike(pattern, escape="\\"),
                    self._property_text("name").ilike(pattern, escape="\\"),
                )
            )
        count = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        page = statement.order_by(Person.created_at.desc(), Person.id.desc()).limit(limit).offset(offset)
        return int(count or 0), list((await self.session.execute(page)).scalars().all())

    def _property_text(self, key: str) -> Any:
        dialect = self.session.bind.dialect.name if self.session.bind is not None else "postgresql"
        if dialect == "postgresql":
            return type_coerce(Person.properties, JSONB)[key].astext
        return func.json_extract(Person.properties, f'$."{key}"')

    async def distinct_ids_by_person(self, person_ids: Sequence[UUID]) -> dict[UUID, list[str]]:
        """Each person's distinct ids, oldest first."""
        found: dict[UUID, list[str]] = {person_id: [] for person_id in person_ids}
        wanted = list(person_ids)
        for start in range(0, len(wanted), _CHUNK):
            statement = (
                select(PersonDistinctId.person_id, PersonDistinctId.distinct_id)
                .where(PersonDistinctId.person_id.in_(wanted[start : start + _CHUNK]))
                .order_by(PersonDistinctId.id)
            )
            for person_id, distinct_id in (await self.session.execute(statement)).all():
                found[person_id].append(distinct_id)
        return found
