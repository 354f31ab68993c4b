"""Schedules of a flow, and the compare-and-set that lets exactly one worker fire an occurrence."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import HogFlow, HogFlowSchedule

ACTIVE = "active"
COMPLETED = "completed"


class ScheduleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, schedule: HogFlowSchedule) -> HogFlowSchedule:
        self.session.add(schedule)
        await self.session.flush()
        return schedule

    async def save(self, schedule: HogFlowSchedule) -> HogFlowSchedule:
        await self.session.flush()
        return schedule

    async def delete(self, schedule: HogFlowSchedule) -> None:
        await self.session.delete(schedule)
        await self.session.flush()

    async def list_for_flow(self, team_id: int, hog_flow_id: UUID) -> Sequence[HogFlowSchedule]:
        statement = (
            select(HogFlowSchedule)
            .where(HogFlowSchedule.team_id == team_id, HogFlowSchedule.hog_flow_id == hog_flow_id)
            .order_by(HogFlowSchedule.created_at.desc(), HogFlowSchedule.id.desc())
        )
        return (await self.session.execute(statement)).scalars().all()

    async def get_for_flow(self, team_id: int, hog_flow_id: UUID, schedule_id: UUID) -> HogFlowSchedule | None:
        statement = select(HogFlowSchedule).where(
            HogFlowSchedule.id == schedule_id,
            HogFlowSchedule.team_id == team_id,
            HogFlowSchedule.hog_flow_id == hog_flow_id,
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, schedule_id: UUID) -> HogFlowSchedule | None:
        return await self.session.get(HogFlowSchedule, schedule_id)

    async def count_for_flows(self, team_id: int, flow_ids: Sequence[UUID], status: str) -> int:
        statement = (
            select(func.count())
            .select_from(HogFlowSchedule)
            .join(HogFlow, HogFlow.id == HogFlowSchedule.hog_flow_id)
            .where(HogFlow.team_id == team_id, HogFlow.id.in_(flow_ids), HogFlow.status == status)
        )
        return int(await self.session.scalar(statement) or 0)

    # --- the scheduler ---------------------------------------------------------------------------

    async def without_next_run(self, trigger_types: Sequence[str], limit: int = 100) -> list[HogFlowSchedule]:
        """Active schedules without a next occurrence whose flow is active with one of `trigger_types`."""
        statement = (
            select(HogFlowSchedule)
            .join(HogFlow, HogFlow.id == HogFlowSchedule.hog_flow_id)
            .where(
                HogFlowSchedule.status == ACTIVE,
                HogFlowSchedule.next_run_at.is_(None),
                HogFlow.status == ACTIVE,
                HogFlow.trigger["type"].as_string().in_(list(trigger_types)),
            )
            .limit(limit)
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def clear_next_run(self, schedule_id: UUID, *, expected: datetime, now: datetime) -> bool:
        statement = (
            update(HogFlowSchedule)
            .where(HogFlowSchedule.id == schedule_id, HogFlowSchedule.next_run_at == expected)
            .values(next_run_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def due(self, now: datetime, limit: int = 100) -> Sequence[tuple[UUID, datetime]]:
        statement = (
            select(HogFlowSchedule.id, HogFlowSchedule.next_run_at)
            .where(HogFlowSchedule.status == ACTIVE, HogFlowSchedule.next_run_at <= now)
            .order_by(HogFlowSchedule.next_run_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all() if row[1] is not None]

    async def advance(
        self,
        schedule_id: UUID,
        *,
        expected: datetime | None,
        next_run_at: datetime | None,
        fired_at: datetime | None,
        now: datetime,
    ) -> bool:
        """Move `next_run_at` on, only if it still is `expected` (one UPDATE: the winner fires).

        No next occurrence completes the schedule.
        """
        values: dict[str, object] = {
            "next_run_at": next_run_at,
            "status": ACTIVE if next_run_at is not None else COMPLETED,
            "updated_at": now,
        }
        if fired_at is not None:
            values["last_run_at"] = fired_at
        statement = (
            update(HogFlowSchedule)
            .where(
                HogFlowSchedule.id == schedule_id,
                HogFlowSchedule.status == ACTIVE,
                HogFlowSchedule.next_run_at.is_(None) if expected is None else HogFlowSchedule.next_run_at == expected,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]
