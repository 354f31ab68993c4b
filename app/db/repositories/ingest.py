"""What ingestion reads and writes: the flows events can start, and runs created in bulk (one statement of
arrays on the asyncpg connection on PostgreSQL, see `app.db.repositories.pg`)."""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import json_codec
from app.db.models import HogFlow, HogFlowRun, RunStatus
from app.db.repositories.observability import (
    APP_SOURCE,
    ObservabilityRepository,
    log_columns,
    metric_columns,
    nudge_log_timestamps,
)
from app.db.repositories.pg import begin, driver
from app.engine.records import LOG_SOURCE, LogRecord, MetricRecord

EVENT_TRIGGER = {"type": "event"}

# The columns `create_runs` sets; the others keep their server defaults or NULL, as with the ORM insert.
_RUN_ROWS = """
INSERT INTO hog_flow_runs (id, team_id, hog_flow_id, version, state, status, next_run_at, distinct_id, person_id,
                           pickups, is_manual, created_at, updated_at)
SELECT id, $1, hog_flow_id, version, state, $2, $3, distinct_id, person_id, 0, false, $3, $3
FROM unnest($4::uuid[], $5::uuid[], $6::integer[], $7::jsonb[], $8::varchar[], $9::uuid[])
    AS t (id, hog_flow_id, version, state, distinct_id, person_id)
"""
# Runs, log lines and metrics of a capture group in one statement: alone, it needs no transaction of its own.
# (Empty arrays insert nothing.)
_INSERT_OUTCOME = f"""
WITH runs AS ({_RUN_ROWS}), logs AS (
    INSERT INTO log_entries (team_id, log_source, log_source_id, instance_id, timestamp, level, message)
    SELECT $1, $10, * FROM unnest($11::varchar[], $12::varchar[], $13::timestamptz[], $14::varchar[], $15::text[])
)
INSERT INTO app_metrics (team_id, app_source, app_source_id, instance_id, metric_kind, metric_name, count, timestamp)
SELECT $1, $16, * FROM unnest($17::varchar[], $18::varchar[], $19::varchar[], $20::varchar[], $21::integer[],
                              $22::timestamptz[])
"""


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
        connection = await driver(self.session)
        if connection is not None and len({run.team_id for run in runs}) == 1:
            await begin(self.session)
            await connection.execute(_RUN_ROWS, runs[0].team_id, RunStatus.QUEUED, now, *_run_columns(runs))
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

    async def write_outcome(
        self,
        team_id: int,
        runs: Sequence[NewRun],
        logs: Sequence[LogRecord],
        metrics: Sequence[MetricRecord],
        now: datetime,
    ) -> None:
        """The last writes of a capture group, all of `team_id`: its runs, log lines and metrics. One
        statement on PostgreSQL, so a group that wrote nothing before needs no BEGIN/COMMIT for it."""
        connection = await driver(self.session)
        if connection is None:
            observability = ObservabilityRepository(self.session)
            await self.create_runs(runs, now)
            await observability.add_logs(logs)
            await observability.add_metrics(metrics)
            return
        if not (runs or logs or metrics):
            return
        stored = nudge_log_timestamps(logs)
        await connection.execute(
            _INSERT_OUTCOME,
            team_id,
            RunStatus.QUEUED,
            now,
            *_run_columns(runs),
            LOG_SOURCE,
            *log_columns(stored),
            APP_SOURCE,
            *metric_columns(metrics),
        )


def _run_columns(runs: Sequence[NewRun]) -> list[list[Any]]:
    return [
        [run.id for run in runs],
        [run.hog_flow_id for run in runs],
        [run.version for run in runs],
        [json_codec.dumps(run.state).decode() for run in runs],
        [run.distinct_id for run in runs],
        [run.person_id for run in runs],
    ]
