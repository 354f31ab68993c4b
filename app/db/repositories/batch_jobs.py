"""Batch jobs: creation and listing, the worker's lease, and one page of runs per transaction.

A worker holds a job through a lease (`lease_owner`, `lease_expires_at`). Every page is written in
one transaction that first re-checks, by compare-and-set, that the lease is still this worker's
and the cursor is where this worker left it; so a job whose worker died resumes exactly after the
last committed page and no person ever gets two runs from one job.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import HogFlow, HogFlowBatchJob, HogFlowRun, User

_RUNS: Table = HogFlowRun.__table__  # type: ignore[assignment]

RUNNABLE = "queued"
ACTIVE = "active"
FINISHED = ("completed", "cancelled", "failed")


class BatchJobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- API -------------------------------------------------------------------------------------

    async def create(self, job: HogFlowBatchJob) -> HogFlowBatchJob:
        self.session.add(job)
        await self.session.flush()
        return job

    async def list_for_flow(self, team_id: int, hog_flow_id: UUID) -> Sequence[tuple[HogFlowBatchJob, User | None]]:
        statement = (
            select(HogFlowBatchJob, User)
            .outerjoin(User, User.id == HogFlowBatchJob.created_by_id)
            .where(HogFlowBatchJob.team_id == team_id, HogFlowBatchJob.hog_flow_id == hog_flow_id)
            .order_by(HogFlowBatchJob.created_at.desc(), HogFlowBatchJob.id.desc())
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def ids_for_flow(self, team_id: int, hog_flow_id: UUID) -> list[UUID]:
        statement = select(HogFlowBatchJob.id).where(
            HogFlowBatchJob.team_id == team_id, HogFlowBatchJob.hog_flow_id == hog_flow_id
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def flows_of_jobs(self, team_id: int) -> dict[str, str]:
        """Batch job id → its flow id, for the team (metrics of a job's runs belong to its flow)."""
        statement = select(HogFlowBatchJob.id, HogFlowBatchJob.hog_flow_id).where(HogFlowBatchJob.team_id == team_id)
        return {str(job_id): str(flow_id) for job_id, flow_id in (await self.session.execute(statement)).all()}

    async def get(self, job_id: UUID) -> HogFlowBatchJob | None:
        return await self.session.get(HogFlowBatchJob, job_id)

    async def get_for_flow(self, team_id: int, hog_flow_id: UUID, job_id: UUID) -> HogFlowBatchJob | None:
        statement = select(HogFlowBatchJob).where(
            HogFlowBatchJob.id == job_id, HogFlowBatchJob.team_id == team_id, HogFlowBatchJob.hog_flow_id == hog_flow_id
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def count_for_flows(self, team_id: int, flow_ids: Sequence[UUID], status: str) -> int:
        statement = (
            select(func.count())
            .select_from(HogFlowBatchJob)
            .join(HogFlow, HogFlow.id == HogFlowBatchJob.hog_flow_id)
            .where(HogFlow.team_id == team_id, HogFlow.id.in_(flow_ids), HogFlow.status == status)
        )
        return int(await self.session.scalar(statement) or 0)

    # --- worker ----------------------------------------------------------------------------------

    async def due(self, now: datetime, limit: int = 100) -> Sequence[tuple[UUID, datetime | None]]:
        """Jobs nobody works on: queued, or active under an expired lease."""
        statement = (
            select(HogFlowBatchJob.id, HogFlowBatchJob.lease_expires_at)
            .where(
                or_(
                    HogFlowBatchJob.status == RUNNABLE,
                    and_(
                        HogFlowBatchJob.status == ACTIVE,
                        or_(HogFlowBatchJob.lease_expires_at.is_(None), HogFlowBatchJob.lease_expires_at < now),
                    ),
                )
            )
            .order_by(HogFlowBatchJob.created_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def team_of(self, job_id: UUID) -> int | None:
        return await self.session.scalar(select(HogFlowBatchJob.team_id).where(HogFlowBatchJob.id == job_id))

    async def claim(self, job_id: UUID, owner: str, now: datetime, lease: timedelta) -> HogFlowBatchJob | None:
        """Take the job if it is queued or its lease expired; `queued` becomes `active`."""
        statement = (
            update(HogFlowBatchJob)
            .where(
                HogFlowBatchJob.id == job_id,
                or_(
                    HogFlowBatchJob.status == RUNNABLE,
                    and_(
                        HogFlowBatchJob.status == ACTIVE,
                        or_(HogFlowBatchJob.lease_expires_at.is_(None), HogFlowBatchJob.lease_expires_at < now),
                    ),
                ),
            )
            .values(
                status=ACTIVE,
                lease_owner=owner,
                lease_expires_at=now + lease,
                started_at=func.coalesce(HogFlowBatchJob.started_at, now),
                updated_at=now,
            )
            .returning(HogFlowBatchJob)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def fence(self, job_id: UUID, owner: str, cursor: str | None, now: datetime, lease: timedelta) -> bool:
        """Renew the lease if this worker still holds it at this cursor (locks the row until commit)."""
        statement = (
            update(HogFlowBatchJob)
            .where(
                HogFlowBatchJob.id == job_id,
                HogFlowBatchJob.status == ACTIVE,
                HogFlowBatchJob.lease_owner == owner,
                HogFlowBatchJob.cursor.is_not_distinct_from(cursor),
            )
            .values(lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_runs(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            # The table, not the entity: a Core executemany skips the ORM's per-row bookkeeping.
            await self.session.execute(insert(_RUNS), list(rows))

    async def advance(
        self, job_id: UUID, owner: str, *, cursor: str | None, matched: int, created: int, now: datetime
    ) -> None:
        statement = (
            update(HogFlowBatchJob)
            .where(HogFlowBatchJob.id == job_id, HogFlowBatchJob.lease_owner == owner)
            .values(
                cursor=cursor,
                persons_matched=HogFlowBatchJob.persons_matched + matched,
                runs_created=HogFlowBatchJob.runs_created + created,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(statement)

    async def finish(self, job_id: UUID, owner: str | None, *, status: str, error: str | None, now: datetime) -> bool:
        """End the job (`completed`, `failed`, `cancelled`); with an owner, only under its lease."""
        conditions = [HogFlowBatchJob.id == job_id, HogFlowBatchJob.status.not_in(FINISHED)]
        if owner is not None:
            conditions.append(HogFlowBatchJob.lease_owner == owner)
        statement = (
            update(HogFlowBatchJob)
            .where(*conditions)
            .values(
                status=status,
                error=error,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, job_id: UUID, owner: str, now: datetime) -> datetime | None:
        """Give the job back (its lease ends now) so the next slice, on any worker, can claim it."""
        statement = (
            update(HogFlowBatchJob)
            .where(HogFlowBatchJob.id == job_id, HogFlowBatchJob.lease_owner == owner, HogFlowBatchJob.status == ACTIVE)
            .values(lease_owner=None, lease_expires_at=now, updated_at=now)
            .returning(HogFlowBatchJob.lease_expires_at)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()
