"""What ingestion reads and writes: the flows events can start, and runs created in bulk."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import HogFlow, HogFlowRun, RunStatus

EVENT_TRIGGER = {"type": "event"}


@dataclass(frozen=True)
class NewRun:
    """A run to insert; the id is chosen by the caller so logs can name it before the insert."""

    id: UUID
    team_id: int
    hog_flow_id: UUID
    state: dict[str, Any]
    distinct_id: str | None
    person_id: UUID | None
    # The flow version the run starts on (it keeps that version's graph).
    version: int | None = None


class IngestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _is_postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def active_event_flows(self, team_id: int) -> Sequence[HogFlow]:
        """Active flows of the team whose trigger is an event (GIN containment on PostgreSQL)."""
        if self._is_postgresql():
            is_event = type_coerce(HogFlow.trigger, JSONB).contains(EVENT_TRIGGER)
        else:
            is_event = func.json_contains(HogFlow.trigger, json.dumps(EVENT_TRIGGER)) == 1
        statement = (
            select(HogFlow)
            .where(HogFlow.team_id == team_id, HogFlow.status == "active", is_event)
            .order_by(HogFlow.created_at, HogFlow.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def flow_by_id(self, flow_id: UUID) -> HogFlow | None:
        """Public webhooks name a flow by id alone: the flow's team is whatever team owns it."""
        return (await self.session.execute(select(HogFlow).where(HogFlow.id == flow_id))).scalar_one_or_none()

    async def create_runs(self, runs: Sequence[NewRun], now: datetime) -> None:
        """One INSERT for every run an ingested batch started; all are queued and due now."""
        if not runs:
            return
        rows = [
            {
                "id": run.id,
                "team_id": run.team_id,
                "hog_flow_id": run.hog_flow_id,
                "version": run.version,
                "state": run.state,
                "status": RunStatus.QUEUED,
                "next_run_at": now,
                "distinct_id": run.distinct_id,
                "person_id": run.person_id,
                "pickups": 0,
                "is_manual": False,
                "created_at": now,
                "updated_at": now,
            }
            for run in runs
        ]
        await self.session.execute(insert(HogFlowRun), rows)
