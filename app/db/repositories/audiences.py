"""Reading an audience's persons: SQL decides what it can (PostgreSQL), the caller's VM the rest."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Select, case, false, func, not_, select, true, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.audiences import Audience, Pushdown
from app.db.models import Person, PersonDistinctId


@dataclass(frozen=True)
class Candidate:
    """A person SQL did not rule out. `needs_vm`: SQL could not decide; `properties` are loaded then."""

    id: UUID
    needs_vm: bool
    properties: dict[str, Any] | None
    distinct_id: str | None


def _first_distinct_id() -> Any:
    return (
        select(PersonDistinctId.distinct_id)
        .where(PersonDistinctId.person_id == Person.id)
        .order_by(PersonDistinctId.id)
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )


class AudienceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def pushes_down(self) -> bool:
        return self.session.bind is not None and self.session.bind.dialect.name == "postgresql"

    def pushdown(self, audience: Audience) -> Pushdown | None:
        """The SQL form of the audience on PostgreSQL; None elsewhere (every person goes to the VM)."""
        if not self.pushes_down:
            return None
        return audience.pushdown(type_coerce(Person.properties, JSONB))

    def _scope(self, statement: Select[Any], team_id: int, pushdown: Pushdown | None) -> Select[Any]:
        statement = statement.where(Person.team_id == team_id)
        if pushdown is not None:
            if pushdown.hint is not None:
                statement = statement.where(pushdown.hint)
            # `predicate IS NOT FALSE` (coalesce: SQLAlchemy does not parenthesize `NOT x IS NOT false`).
            statement = statement.where(func.coalesce(pushdown.predicate, true()))
        return statement

    async def candidates(
        self,
        team_id: int,
        pushdown: Pushdown | None,
        *,
        after: UUID | None,
        limit: int,
        undecided_only: bool = False,
        with_distinct_id: bool = True,
    ) -> list[Candidate]:
        """The next persons (ordered by id, after `after`) that SQL did not rule out."""
        needs_vm: ColumnElement[bool] | None = pushdown.needs_vm if pushdown is not None else None
        columns: list[Any] = [Person.id]
        if needs_vm is None:
            columns += [Person.properties]
        elif pushdown is not None and pushdown.exact:
            pass
        else:
            columns += [needs_vm.label("needs_vm"), case((needs_vm, Person.properties), else_=None)]
        if with_distinct_id:
            columns.append(_first_distinct_id())
        statement = self._scope(select(*columns), team_id, pushdown)
        if after is not None:
            statement = statement.where(Person.id > after)
        if undecided_only and needs_vm is not None:
            statement = statement.where(needs_vm)
        statement = statement.order_by(Person.id).limit(limit)
        rows = (await self.session.execute(statement)).all()
        found: list[Candidate] = []
        for row in rows:
            distinct_id = row[-1] if with_distinct_id else None
            if needs_vm is None:
                found.append(Candidate(row[0], True, row[1], distinct_id))
            elif pushdown is not None and pushdown.exact:
                found.append(Candidate(row[0], False, None, distinct_id))
            else:
                found.append(Candidate(row[0], bool(row[1]), row[2], distinct_id))
        return found

    async def count_decided(self, team_id: int, pushdown: Pushdown) -> int:
        """Persons SQL alone says match."""
        statement = self._scope(select(func.count()).select_from(Person), team_id, pushdown)
        statement = statement.where(func.coalesce(pushdown.predicate, false()))
        if not pushdown.exact:
            statement = statement.where(not_(pushdown.needs_vm))
        return int(await self.session.scalar(statement) or 0)

    async def count_persons(self, team_id: int) -> int:
        return int(await self.session.scalar(select(func.count()).where(Person.team_id == team_id)) or 0)

    async def first_distinct_ids(self, person_ids: Sequence[UUID]) -> dict[UUID, str]:
        if not person_ids:
            return {}
        statement = (
            select(PersonDistinctId.person_id, PersonDistinctId.distinct_id)
            .where(PersonDistinctId.person_id.in_(list(person_ids)))
            .order_by(PersonDistinctId.person_id, PersonDistinctId.id)
        )
        found: dict[UUID, str] = {}
        for person_id, distinct_id in (await self.session.execute(statement)).all():
            found.setdefault(person_id, distinct_id)
        return found
