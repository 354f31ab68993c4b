"""Runs of flows: creation, leased pickups, persisting what a pickup produced, and reads."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import HogFlowRun, HogFlowRunStep, RunStatus
from app.engine.records import StepRecord
from app.storable import storable_text


class RunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        team_id: int,
        hog_flow_id: UUID,
        state: dict[str, Any],
        now: datetime,
        distinct_id: str | None = None,
        person_id: UUID | None = None,
        parent_run_id: str | None = None,
        is_manual: bool = False,
        idempotency_key: str | None = None,
    ) -> HogFlowRun:
        run = HogFlowRun(
            team_id=team_id,
            hog_flow_id=hog_flow_id,
            state=state,
            status=RunStatus.QUEUED,
            next_run_at=now,
            distinct_id=distinct_id,
            person_id=person_id,
            parent_run_id=parent_run_id,
            is_manual=is_manual,
            idempotency_key=idempotency_key,
            created_at=now,
            updated_at=now,
        )
        self.session.add(run)
        await self.session.flush()
        return run

    async def claim(self, run_id: UUID, owner: str, now: datetime, lease: timedelta) -> HogFlowRun | None:
        """Take the run for one pickup if it is due and nobody holds a live lease on it."""
        statement = (
            update(HogFlowRun)
            .where(
                HogFlowRun.id == run_id,
                or_(
                    and_(HogFlowRun.status.in_(RunStatus.PENDING), HogFlowRun.next_run_at <= now),
                    and_(HogFlowRun.status == RunStatus.RUNNING, HogFlowRun.lease_expires_at < now),
                ),
            )
            .values(
                status=RunStatus.RUNNING,
                lease_owner=owner,
                lease_expires_at=now + lease,
                pickups=HogFlowRun.pickups + 1,
                updated_at=now,
            )
            .returning(HogFlowRun)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def finish_pickup(
        self,
        run: HogFlowRun,
        owner: str,
        *,
        status: str,
        state: dict[str, Any],
        next_run_at: datetime | None,
        error: str | None,
        now: datetime,
    ) -> str | None:
        """Store the pickup's result, only if this worker still holds the lease (fencing).

        Returns the status stored (None when the lease was lost): `cancelled` instead of a non-final
        status when a cancel was requested while the pickup ran.
        """
        current_action = (state.get("currentAction") or {}).get("id")
        values: dict[str, Any] = {
            "status": status,
            "next_run_at": next_run_at,
            "finished_at": now if status in RunStatus.FINISHED else None,
        }
        if status not in RunStatus.FINISHED:
            cancelled = HogFlowRun.cancel_requested.is_(True)
            values = {
                "status": case((cancelled, RunStatus.CANCELLED), else_=status),
                "next_run_at": case((cancelled, None), else_=next_run_at),
                "finished_at": case((cancelled, now), else_=None),
            }
        statement = (
            update(HogFlowRun)
            .where(HogFlowRun.id == run.id, HogFlowRun.lease_owner == owner, HogFlowRun.pickups == run.pickups)
            .values(
                **values,
                state=state,
                error=storable_text(error) if error is not None else None,
                current_action_id=current_action,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(HogFlowRun.status)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def cancel_requested(self, run_id: UUID) -> bool:
        return bool(await self.session.scalar(select(HogFlowRun.cancel_requested).where(HogFlowRun.id == run_id)))

    async def cancel(
        self, team_id: int, hog_flow_id: UUID, run_ids: Sequence[UUID] | None, now: datetime, limit: int
    ) -> tuple[list[HogFlowRun], list[UUID]]:
        """End parked runs now and flag running ones; at most `limit` runs in all.

        Returns (runs ended now, ids of running runs newly flagged). A parked run has no live lease,
        so ending it cannot race a pickup: a claim that wins first makes it running, and it is flagged.
        """
        scope = [HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id]
        if run_ids is not None:
            scope.append(HogFlowRun.id.in_(list(run_ids)))
        parked = select(HogFlowRun.id).where(*scope, HogFlowRun.status.in_(RunStatus.PENDING)).limit(limit)
        ended = (
            (
                await self.session.execute(
                    update(HogFlowRun)
                    .where(HogFlowRun.id.in_(parked), HogFlowRun.status.in_(RunStatus.PENDING))
                    .values(
                        status=RunStatus.CANCELLED,
                        cancel_requested=True,
                        next_run_at=None,
                        finished_at=now,
                        updated_at=now,
                    )
                    .returning(HogFlowRun)
                    .execution_options(synchronize_session=False)
                )
            )
            .scalars()
            .all()
        )
        running = (
            select(HogFlowRun.id)
            .where(*scope, HogFlowRun.status == RunStatus.RUNNING, HogFlowRun.cancel_requested.is_(False))
            .limit(max(limit - len(ended), 0))
        )
        flagged = (
            await self.session.execute(
                update(HogFlowRun)
                .where(HogFlowRun.id.in_(running), HogFlowRun.status == RunStatus.RUNNING)
                .values(cancel_requested=True, updated_at=now)
                .returning(HogFlowRun.id)
                .execution_options(synchronize_session=False)
            )
        ).scalars()
        return list(ended), list(flagged)

    async def in_flight_unflagged(self, team_id: int, hog_flow_id: UUID) -> int:
        statement = select(func.count()).where(
            HogFlowRun.team_id == team_id,
            HogFlowRun.hog_flow_id == hog_flow_id,
            HogFlowRun.status.in_((*RunStatus.PENDING, RunStatus.RUNNING)),
            HogFlowRun.cancel_requested.is_(False),
        )
        return int(await self.session.scalar(statement) or 0)

    async def statuses(self, team_id: int, hog_flow_id: UUID, run_ids: Sequence[UUID]) -> dict[UUID, str]:
        statement = select(HogFlowRun.id, HogFlowRun.status).where(
            HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id, HogFlowRun.id.in_(list(run_ids))
        )
        return {row[0]: str(row[1]) for row in (await self.session.execute(statement)).all()}

    async def by_idempotency_key(self, hog_flow_id: UUID, key: str) -> HogFlowRun | None:
        statement = select(HogFlowRun).where(HogFlowRun.hog_flow_id == hog_flow_id, HogFlowRun.idempotency_key == key)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add_steps(self, run_id: UUID, pickup: int, steps: Sequence[StepRecord]) -> None:
        if not steps:
            return
        last = await self.session.scalar(select(func.max(HogFlowRunStep.seq)).where(HogFlowRunStep.run_id == run_id))
        first_seq = (last or 0) + 1
        self.session.add_all(
            HogFlowRunStep(run_id=run_id, seq=first_seq + offset, pickup=pickup, **step.__dict__)
            for offset, step in enumerate(steps)
        )
        await self.session.flush()

    async def due(
        self, now: datetime, limit: int = 500, overdue_by: timedelta = timedelta(0)
    ) -> Sequence[tuple[UUID, int]]:
        """Runs to hand to a worker: pending and due for `overdue_by`, or running under an expired lease."""
        statement = (
            select(HogFlowRun.id, HogFlowRun.pickups)
            .where(
                or_(
                    and_(HogFlowRun.status.in_(RunStatus.PENDING), HogFlowRun.next_run_at <= now - overdue_by),
                    and_(HogFlowRun.status == RunStatus.RUNNING, HogFlowRun.lease_expires_at < now),
                )
            )
            .order_by(HogFlowRun.next_run_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def get(self, team_id: int, hog_flow_id: UUID, run_id: UUID) -> HogFlowRun | None:
        statement = select(HogFlowRun).where(
            HogFlowRun.id == run_id, HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list_for_flow(
        self,
        team_id: int,
        hog_flow_id: UUID,
        *,
        status: str | None,
        limit: int,
        offset: int,
        distinct_id: str | None = None,
    ) -> tuple[int, Sequence[HogFlowRun]]:
        statement = select(HogFlowRun).where(HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id)
        if status:
            statement = statement.where(HogFlowRun.status == status)
        if distinct_id:
            statement = statement.where(HogFlowRun.distinct_id == distinct_id)
        count = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        page = statement.order_by(HogFlowRun.created_at.desc(), HogFlowRun.id.desc()).limit(limit).offset(offset)
        return count or 0, (await self.session.execute(page)).scalars().all()

    async def counts_since(
        self, team_id: int, hog_flow_ids: Sequence[UUID], since: datetime
    ) -> dict[UUID, tuple[int, int]]:
        """Runs created since `since` per flow, and how many of them failed."""
        if not hog_flow_ids:
            return {}
        failed = func.count().filter(HogFlowRun.status == RunStatus.FAILED)
        statement = (
            select(HogFlowRun.hog_flow_id, func.count(), failed)
            .where(
                HogFlowRun.team_id == team_id,
                HogFlowRun.hog_flow_id.in_(list(hog_flow_ids)),
                HogFlowRun.created_at >= since,
            )
            .group_by(HogFlowRun.hog_flow_id)
        )
        return {row[0]: (int(row[1]), int(row[2])) for row in (await self.session.execute(statement)).all()}

    async def entered_by_action(self, team_id: int, hog_flow_id: UUID, since: datetime) -> dict[str, int]:
        """Per action: how many runs reached it (a step recorded there) since `since`, waiting ones included."""
        statement = (
            select(HogFlowRunStep.action_id, func.count(func.distinct(HogFlowRunStep.run_id)))
            .join(HogFlowRun, HogFlowRun.id == HogFlowRunStep.run_id)
            .where(
                HogFlowRun.team_id == team_id,
                HogFlowRun.hog_flow_id == hog_flow_id,
                HogFlowRunStep.started_at >= since,
            )
            .group_by(HogFlowRunStep.action_id)
        )
        return {str(row[0]): int(row[1]) for row in (await self.session.execute(statement)).all()}

    async def progress_of_parents(self, team_id: int, parent_run_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Per batch job id: runs it created, and how many of them have finished."""
        if not parent_run_ids:
            return {}
        finished = func.count().filter(HogFlowRun.status.in_(RunStatus.FINISHED))
        statement = (
            select(HogFlowRun.parent_run_id, func.count(), finished)
            .where(HogFlowRun.team_id == team_id, HogFlowRun.parent_run_id.in_(list(parent_run_ids)))
            .group_by(HogFlowRun.parent_run_id)
        )
        return {str(row[0]): (int(row[1]), int(row[2])) for row in (await self.session.execute(statement)).all()}

    async def steps(self, run_id: UUID) -> Sequence[HogFlowRunStep]:
        statement = select(HogFlowRunStep).where(HogFlowRunStep.run_id == run_id).order_by(HogFlowRunStep.seq)
        return (await self.session.execute(statement)).scalars().all()
