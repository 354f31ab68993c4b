"""What ingestion reads and writes: the flows events can start, and runs created in bulk (one statement of
arrays on the asyncpg connection on PostgreSQL, see `app.db.asyncpg_direct`)."""

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
from app.db.asyncpg_direct import begin, driver
from app.db.models import HogFlow, HogFlowRun, RunStatus
from app.db.repositories.observability import (
    APP_SOURCE,
    LOG_RECORDSET,
    METRIC_RECORDSET,
    ObservabilityRepository,
    log_rows,
    metric_rows,
    nudge_log_timestamps,
)
from app.engine.records import LOG_SOURCE, LogRecord, MetricRecord

EVENT_TRIGGER = {"type": "event"}

# The columns `create_runs` sets; the others keep their server defaults or NULL, as with the ORM insert. The
# rows go as one JSON array (see app/db/repositories/observability.py).
_RUN_ROWS = """
INSERT INTO hog_flow_runs (id, team_id, hog_flow_id, version, state, status, next_run_at, distinct_id, person_id,
                           pickups, is_manual, created_at, updated_at)
SELECT r.id, $1, r.hog_flow_id, r.version, r.state, $2, $3, r.distinct_id, r.person_id, 0, false, $3, $3
FROM json_to_recordset($4::json)
    AS r (id uuid, hog_flow_id uuid, version integer, state jsonb, distinct_id varchar, person_id uuid)
"""
# Runs, log lines and metrics of a capture group in one statement: alone, it needs no transaction of its own.
_INSERT_OUTCOME = f"""
WITH runs AS ({_RUN_ROWS}), logs AS (
    INSERT INTO log_entries (team_id, log_source, log_source_id, instance_id, timestamp, level, message)
    SELECT $1, $5, l.* FROM {LOG_RECORDSET.format("$6::json")}
)
INSERT INTO app_metrics (team_id, app_source, app_source_id, instance_id, metric_kind, metric_name, count, timestamp)
SELECT $1, $7, m.* FROM {METRIC_RECORDSET.format("$8::json")}
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
        connection = driver(self.session)
        if connection is not None and len({run.team_id for run in runs}) == 1:
            await begin(self.session)
            await connection.execute(_RUN_ROWS, runs[0].team_id, RunStatus.QUEUED, now, _run_rows(runs))
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
        connection = driver(self.session)
        if connection is None:
            observability = ObservabilityRepository(self.session)
            await self.create_runs(runs, now)
            await observability.add_logs(logs)
            await observability.add_metrics(metrics)
            return
        if not (runs or logs or metrics):
            return
        if not (logs or metrics):  # the usual group while its team is busy (its counts held for the next)
            await connection.execute(_RUN_ROWS, team_id, RunStatus.QUEUED, now, _run_rows(runs))
            return
        stored = nudge_log_timestamps(logs)
        await connection.execute(
            _INSERT_OUTCOME,
            team_id,
            RunStatus.QUEUED,
            now,
            _run_rows(runs),
            LOG_SOURCE,
            log_rows(stored),
            APP_SOURCE,
            metric_rows(metrics),
        )


def _run_rows(runs: Sequence[NewRun]) -> str:
    return json_codec.dumps(
        [
            {
                "id": str(run.id),
                "hog_flow_id": str(run.hog_flow_id),
                "version": run.version,
                "state": run.state,
                "distinct_id": run.distinct_id,
                "person_id": str(run.person_id) if run.person_id is not None else None,
            }
            for run in runs
        ]
    ).decode()
