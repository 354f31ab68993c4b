"""What parked runs wait for (`hog_flow_run_waits`), and waking the runs an event matched."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, false, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import HogFlowRun, HogFlowRunWait, Person, RunStatus
from app.engine.waits import STEP_KINDS, WaitRegistration, Wake


class WaitRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def store(
        self,
        run: HogFlowRun,
        person_id: UUID,
        *,
        step_waits: Sequence[WaitRegistration] | None,
        conversion_waits: Sequence[WaitRegistration],
        now: datetime,
    ) -> None:
        """Replace the run's step registrations (when `step_waits` is a list) and add conversion ones."""
        if step_waits is not None:
            await self.session.execute(
                delete(HogFlowRunWait).where(HogFlowRunWait.run_id == run.id, HogFlowRunWait.kind.in_(STEP_KINDS))
            )
        rows = [
            {
                "run_id": run.id,
                "team_id": run.team_id,
                "person_id": person_id,
                "kind": wait.kind,
                "event_name": wait.event_name,
                "filters": wait.filters,
                "correlation": wait.correlation,
                "correlation_value": wait.correlation_value,
                "expires_at": wait.expires_at,
                "created_at": now,
            }
            for wait in [*(step_waits or []), *conversion_waits]
        ]
        if rows:
            await self.session.execute(insert(HogFlowRunWait), rows)

    async def clear(self, run_id: UUID) -> None:
        await self.session.execute(delete(HogFlowRunWait).where(HogFlowRunWait.run_id == run_id))

    async def woken(self, run_id: UUID) -> list[Wake]:
        """The run's registrations that an event matched, oldest match first."""
        statement = (
            select(HogFlowRunWait.kind, HogFlowRunWait.matched_event)
            .where(HogFlowRunWait.run_id == run_id, HogFlowRunWait.matched_at.is_not(None))
            .order_by(HogFlowRunWait.matched_at, HogFlowRunWait.id)
        )
        return [Wake(kind, event or {}) for kind, event in (await self.session.execute(statement)).all()]

    async def since_pickup(self, run_id: UUID, person: Person | None) -> tuple[int, bool]:
        """For a run about to park: how many of its registrations an event matched, and whether `person`
        (as the pickup read it) changed since while one of them waits on a person change. One round-trip."""
        changed = (
            select(Person.id).where(Person.id == person.id, Person.updated_at != person.updated_at).exists()
            if person is not None
            else false()
        )
        statement = select(
            func.count().filter(HogFlowRunWait.matched_at.is_not(None)),
            func.count().filter(HogFlowRunWait.event_name.is_(None)),
            changed,
        ).where(HogFlowRunWait.run_id == run_id)
        matched, on_person, person_changed = (await self.session.execute(statement)).one()
        return int(matched), bool(on_person and person_changed)

    async def candidates(
        self, team_id: int, person_ids: Iterable[UUID], event_names: Iterable[str]
    ) -> Sequence[HogFlowRunWait]:
        """Unmatched registrations of these persons for these event names, plus their condition waits.

        One indexed query per capture batch (team, person); the caller evaluates filters."""
        persons, names = list(set(person_ids)), list(set(event_names))
        if not persons:
            return []
        statement = select(HogFlowRunWait).where(
            HogFlowRunWait.team_id == team_id,
            HogFlowRunWait.person_id.in_(persons),
            HogFlowRunWait.matched_at.is_(None),
            or_(HogFlowRunWait.event_name.in_(names), HogFlowRunWait.event_name.is_(None)),
        )
        return (await self.session.execute(statement)).scalars().all()

    async def person_change_waits(
        self, team_id: int, person_ids: Sequence[UUID], chunk: int = 5000
    ) -> list[HogFlowRunWait]:
        """Registrations of these persons that a change to the person may satisfy (property condition
        waits and property conversion goals)."""
        found: list[HogFlowRunWait] = []
        for start in range(0, len(person_ids), chunk):
            statement = select(HogFlowRunWait).where(
                HogFlowRunWait.team_id == team_id,
                HogFlowRunWait.person_id.in_(person_ids[start : start + chunk]),
                HogFlowRunWait.event_name.is_(None),
            )
            found.extend((await self.session.execute(statement)).scalars().all())
        return found

    async def mark_matched(self, matches: Sequence[tuple[int, dict[str, Any]]], now: datetime) -> None:
        for wait_id, event in matches:
            await self.session.execute(
                update(HogFlowRunWait)
                .where(HogFlowRunWait.id == wait_id, HogFlowRunWait.matched_at.is_(None))
                .values(matched_at=now, matched_event=event)
                .execution_options(synchronize_session=False)
            )


async def wake_runs(session: AsyncSession, run_ids: Iterable[UUID], now: datetime) -> list[tuple[UUID, int]]:
    """Make parked runs due now; returns (id, pickups) of those woken, for the scheduler.

    A run that is running is left alone: its pickup checks for matches when it parks again."""
    ids = list(set(run_ids))
    if not ids:
        return []
    statement = (
        update(HogFlowRun)
        .where(HogFlowRun.id.in_(ids), HogFlowRun.status.in_(RunStatus.PENDING))
        .values(next_run_at=now, updated_at=now)
        .returning(HogFlowRun.id, HogFlowRun.pickups)
        .execution_options(synchronize_session=False)
    )
    return [(row[0], row[1]) for row in (await session.execute(statement)).all()]
