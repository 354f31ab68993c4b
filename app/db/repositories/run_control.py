"""Reads and writes behind cancel, rerun and invocation results (see `app.services.run_control`)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from app.db.models import HogFlowRun, HogFlowSend
from app.db.repositories.sends import DONE
from app.engine.functions.calls import CallOutcome


class RunControlRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def in_window(
        self,
        team_id: int,
        hog_flow_id: UUID,
        statuses: Sequence[str],
        start: datetime,
        end: datetime,
        run_ids: Sequence[UUID] | None,
        *,
        limit: int,
    ) -> Sequence[HogFlowRun]:
        """Runs created in `[start, end)` with one of `statuses`, oldest first, locked against pickups."""
        statement = select(HogFlowRun).where(
            HogFlowRun.team_id == team_id,
            HogFlowRun.hog_flow_id == hog_flow_id,
            HogFlowRun.status.in_(list(statuses)),
            HogFlowRun.created_at >= start,
            HogFlowRun.created_at < end,
        )
        if run_ids is not None:
            statement = statement.where(HogFlowRun.id.in_(list(run_ids)))
        statement = statement.order_by(HogFlowRun.created_at, HogFlowRun.id).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        return (await self.session.execute(statement)).scalars().all()

    async def forget_failed_sends(self, run_ids: Sequence[UUID]) -> int:
        """Drop the send records whose request failed, so a restarted step sends them again.

        Completed successful sends stay (a restarted step replays them); pending ones stay too: their
        outcome is unknown, and sending again could deliver twice.
        """
        if not run_ids:
            return 0
        rows = await self.session.execute(
            select(HogFlowSend.id, HogFlowSend.response).where(
                HogFlowSend.run_id.in_(list(run_ids)), HogFlowSend.status == DONE
            )
        )
        failed = [row[0] for row in rows.all() if not isinstance(row[1], dict) or CallOutcome.from_json(row[1]).failed]
        for start in range(0, len(failed), 1000):
            await self.session.execute(delete(HogFlowSend).where(HogFlowSend.id.in_(failed[start : start + 1000])))
        return len(failed)

    def _results(
        self,
        team_id: int,
        hog_flow_id: UUID,
        *,
        statuses: Sequence[str] | None,
        distinct_id: str | None,
        error_contains: str | None,
        after: datetime | None,
        before: datetime | None,
    ) -> Select[Any]:
        statement = select(HogFlowRun).where(HogFlowRun.team_id == team_id, HogFlowRun.hog_flow_id == hog_flow_id)
        if statuses is not None:
            statement = statement.where(HogFlowRun.status.in_(list(statuses)))
        if distinct_id:
            statement = statement.where(HogFlowRun.distinct_id == distinct_id)
        if error_contains:
            statement = statement.where(func.lower(HogFlowRun.error).contains(error_contains.lower(), autoescape=True))
        if after is not None:
            statement = statement.where(HogFlowRun.created_at >= after)
        if before is not None:
            statement = statement.where(HogFlowRun.created_at <= before)
        return statement

    async def results(self, team_id: int, hog_flow_id: UUID, *, limit: int, **filters: Any) -> Sequence[HogFlowRun]:
        statement = self._results(team_id, hog_flow_id, **filters)
        statement = statement.order_by(HogFlowRun.created_at.desc(), HogFlowRun.id.desc()).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def results_count(self, team_id: int, hog_flow_id: UUID, **filters: Any) -> int:
        statement = self._results(team_id, hog_flow_id, **filters)
        return int(await self.session.scalar(select(func.count()).select_from(statement.subquery())) or 0)
