"""Log entries and app metrics of hog flows: batched writes and the queries behind logs/metrics.

Rows follow PostHog's `log_entries` and `app_metrics2` tables. Every read is scoped to a team,
to `log_source`/`app_source` = `hog_flow` and to one source id (the flow id, or a batch job id).
The queries use plain SQLAlchemy expressions so they answer the same on PostgreSQL and SQLite.
"""

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import BigInteger, ColumnElement, Integer, Select, cast, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.db import json_codec
from app.db.asyncpg_direct import begin, driver
from app.db.models import AppMetric, LogEntry
from app.engine.records import LOG_SOURCE, LogRecord, MetricRecord
from app.storable import storable_text

APP_SOURCE = LOG_SOURCE

BreakdownBy = Literal["kind", "name"]

_ONE_MS = timedelta(milliseconds=1)
# Rows are pre-summed in SQL per slice of this many seconds and then assigned to buckets in Python.
# Every UTC offset in use today is a multiple of 15 minutes, so hour/day/week starts in any team
# timezone fall on a slice edge; when one does not, the slice shrinks (see `_slice_seconds`).
_SLICE_SECONDS = 900


def _millis(moment: datetime) -> int:
    """Whole milliseconds since the epoch (floor), exact for aware datetimes."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def nudge_log_timestamps(records: Sequence[LogRecord]) -> list[LogRecord]:
    """Make timestamps unique to the millisecond within each (source, run), keeping their order.

    Like PostHog's executor before it produces a batch: entries of one run are sorted by time
    (stably, so equal timestamps keep the order they were logged in) and any entry that does not
    land on a later millisecond than the previous one is moved to the previous one + 1 ms.
    The result lists the records in the order given, with adjusted timestamps.
    """
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        groups[(record.log_source_id, record.instance_id)].append(index)
    result = list(records)
    for indexes in groups.values():
        indexes.sort(key=lambda i: records[i].timestamp)
        previous: datetime | None = None
        for i in indexes:
            timestamp = records[i].timestamp
            if previous is not None and _millis(timestamp) <= _millis(previous):
                bumped_ms = _millis(previous) + 1
                timestamp = datetime(1970, 1, 1, tzinfo=UTC) + bumped_ms * _ONE_MS
                result[i] = replace(records[i], timestamp=timestamp)
            previous = timestamp
    return result


@dataclass(frozen=True)
class LogQuery:
    team_id: int
    source_id: str
    limit: int
    # More sources read as this one: a flow's batch jobs, whose runs log under the job id.
    also_source_ids: Sequence[str] = ()
    after: datetime | None = None
    before: datetime | None = None
    levels: Sequence[str] = ()
    search: str | None = None
    instance_id: str | None = None


@dataclass(frozen=True)
class MetricQuery:
    team_id: int
    source_id: str
    # More sources read as this one: a flow's batch jobs, whose runs log under the job id.
    also_source_ids: Sequence[str] = ()
    breakdown_by: BreakdownBy = "kind"
    after: datetime | None = None
    before: datetime | None = None
    names: Sequence[str] = ()
    kinds: Sequence[str] = ()
    instance_id: str | None = None


def _slice_seconds(bucket_starts: Sequence[datetime]) -> int:
    """The largest divisor of `_SLICE_SECONDS` that every bucket start (in epoch seconds) is a multiple of."""
    size = _SLICE_SECONDS
    for start in bucket_starts:
        size = math.gcd(size, _millis(start) // 1000)
        if start.microsecond or size == 1:
            return 1
    return size


# One statement each, whatever the number of rows (a capture request can carry a `filtered` row for each of a
# thousand flows), sent on the asyncpg connection (`app.db.asyncpg_direct`). The rows go as one JSON array:
# asyncpg encodes a parameter array element by element, several times slower than orjson writes it.
METRIC_RECORDSET = (
    "json_to_recordset({}) AS m (app_source_id varchar, instance_id varchar, metric_kind varchar, "
    "metric_name varchar, count integer, timestamp timestamptz)"
)
LOG_RECORDSET = (
    "json_to_recordset({}) AS l (log_source_id varchar, instance_id varchar, timestamp timestamptz, "
    "level varchar, message text)"
)
_INSERT_METRICS = f"""
INSERT INTO app_metrics (team_id, app_source, app_source_id, instance_id, metric_kind, metric_name, count, timestamp)
SELECT $1, $2, m.* FROM {METRIC_RECORDSET.format("$3::json")}
"""
_INSERT_LOGS = f"""
INSERT INTO log_entries (team_id, log_source, log_source_id, instance_id, timestamp, level, message)
SELECT $1, $2, l.* FROM {LOG_RECORDSET.format("$3::json")}
"""


# Other sessions on PostgreSQL (the worker's): one statement of arrays, through the session.
_INSERT_METRICS_UNNEST = text(
    "INSERT INTO app_metrics (team_id, app_source, app_source_id, instance_id, metric_kind, metric_name, count, "
    "timestamp) SELECT * FROM unnest(CAST(:team_id AS integer[]), CAST(:app_source AS varchar[]), "
    "CAST(:app_source_id AS varchar[]), CAST(:instance_id AS varchar[]), CAST(:metric_kind AS varchar[]), "
    "CAST(:metric_name AS varchar[]), CAST(:count AS integer[]), CAST(:timestamp AS timestamptz[]))"
)


def log_row(record: LogRecord) -> dict[str, Any]:
    """One row of `LOG_RECORDSET` (the record already nudged)."""
    return {
        "log_source_id": record.log_source_id,
        "instance_id": record.instance_id,
        "timestamp": record.timestamp.isoformat(),
        "level": record.level,
        "message": storable_text(record.message),
    }


def log_rows(records: Sequence[LogRecord]) -> str:
    """`LOG_RECORDSET`'s JSON (records already nudged)."""
    return json_codec.dumps([log_row(record) for record in records]).decode()


def metric_row(record: MetricRecord, timestamp: str) -> dict[str, Any]:
    """One row of `METRIC_RECORDSET`, its timestamp given in ISO format."""
    return {
        "app_source_id": record.app_source_id,
        "instance_id": record.instance_id,
        "metric_kind": record.metric_kind,
        "metric_name": record.metric_name,
        "count": record.count,
        "timestamp": timestamp,
    }


def metric_rows(records: Sequence[MetricRecord]) -> str:
    """`METRIC_RECORDSET`'s JSON."""
    stamps: dict[datetime, str] = {}  # a capture group's thousand rows share one timestamp

    def stamp(moment: datetime) -> str:
        iso = stamps.get(moment)
        if iso is None:
            iso = stamps[moment] = moment.isoformat()
        return iso

    return json_codec.dumps([metric_row(record, stamp(record.timestamp)) for record in records]).decode()


class ObservabilityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # Writes

    async def add_logs(self, records: Sequence[LogRecord]) -> list[LogRecord]:
        """Insert a batch of log lines; returns them with the timestamps as stored (see `nudge_log_timestamps`)."""
        stored = nudge_log_timestamps(records)
        if not stored:
            return stored
        connection = driver(self.session)
        if connection is not None and len({record.team_id for record in stored}) == 1:
            await begin(self.session)
            await connection.execute(_INSERT_LOGS, stored[0].team_id, LOG_SOURCE, log_rows(stored))
        else:
            rows = [
                {
                    "team_id": record.team_id,
                    "log_source": LOG_SOURCE,
                    "log_source_id": record.log_source_id,
                    "instance_id": record.instance_id,
                    "timestamp": record.timestamp,
                    "level": record.level,
                    "message": storable_text(record.message),
                }
                for record in stored
            ]
            await self.session.execute(insert(LogEntry), rows)
        return stored

    async def add_metrics(self, records: Sequence[MetricRecord]) -> None:
        """Insert a batch of metric increments: one statement on PostgreSQL, a multi-row insert elsewhere."""
        if not records:
            return
        connection = driver(self.session)
        if connection is not None and len({record.team_id for record in records}) == 1:
            await begin(self.session)
            await connection.execute(_INSERT_METRICS, records[0].team_id, APP_SOURCE, metric_rows(records))
            return
        if self.session.get_bind().dialect.name == "postgresql":
            await self.session.execute(
                _INSERT_METRICS_UNNEST,
                {
                    "team_id": [record.team_id for record in records],
                    "app_source": [APP_SOURCE] * len(records),
                    "app_source_id": [record.app_source_id for record in records],
                    "instance_id": [record.instance_id for record in records],
                    "metric_kind": [record.metric_kind for record in records],
                    "metric_name": [record.metric_name for record in records],
                    "count": [record.count for record in records],
                    "timestamp": [record.timestamp.astimezone(UTC) for record in records],
                },
            )
            return
        rows = [
            {
                "team_id": record.team_id,
                "app_source": APP_SOURCE,
                "app_source_id": record.app_source_id,
                "instance_id": record.instance_id,
                "metric_kind": record.metric_kind,
                "metric_name": record.metric_name,
                "count": record.count,
                "timestamp": record.timestamp,
            }
            for record in records
        ]
        await self.session.execute(insert(AppMetric), rows)

    # Logs

    async def list_logs(self, query: LogQuery) -> Sequence[LogEntry]:
        """The newest `limit` entries matching the filters, newest first."""
        statement = select(LogEntry).where(
            LogEntry.team_id == query.team_id,
            LogEntry.log_source == LOG_SOURCE,
            LogEntry.log_source_id.in_([query.source_id, *query.also_source_ids]),
        )
        if query.instance_id:
            statement = statement.where(LogEntry.instance_id == query.instance_id)
        if query.after is not None:
            statement = statement.where(LogEntry.timestamp > query.after)
        if query.before is not None:
            statement = statement.where(LogEntry.timestamp < query.before)
        if query.search:
            statement = statement.where(LogEntry.message.icontains(query.search, autoescape=True))
        if query.levels:
            statement = statement.where(func.upper(LogEntry.level).in_([level.upper() for level in query.levels]))
        statement = statement.order_by(LogEntry.timestamp.desc(), LogEntry.id.desc()).limit(query.limit)
        return (await self.session.execute(statement)).scalars().all()

    # Metrics

    def _metric_statement(self, query: MetricQuery, *columns: Any) -> Select[Any]:
        breakdown = self._breakdown_column(query.breakdown_by)
        statement = select(*columns, breakdown, func.sum(AppMetric.count)).where(
            AppMetric.team_id == query.team_id,
            AppMetric.app_source == APP_SOURCE,
            AppMetric.app_source_id.in_([query.source_id, *query.also_source_ids]),
        )
        if query.after is not None:
            statement = statement.where(AppMetric.timestamp >= query.after)
        if query.before is not None:
            statement = statement.where(AppMetric.timestamp <= query.before)
        if query.instance_id:
            statement = statement.where(AppMetric.instance_id == query.instance_id)
        if query.names:
            statement = statement.where(AppMetric.metric_name.in_(list(query.names)))
        if query.kinds:
            statement = statement.where(AppMetric.metric_kind.in_(list(query.kinds)))
        return statement.group_by(*columns, breakdown)

    @staticmethod
    def _breakdown_column(breakdown_by: BreakdownBy) -> InstrumentedAttribute[str]:
        return AppMetric.metric_name if breakdown_by == "name" else AppMetric.metric_kind

    def _epoch_slice(self, size: int) -> ColumnElement[int]:
        """`floor(epoch seconds of the timestamp / size)`, on either backend."""
        if self.session.get_bind().dialect.name == "postgresql":
            return cast(func.floor(func.extract("epoch", AppMetric.timestamp) / size), BigInteger)
        # SQLite stores UTC text; strftime('%s') reads it as whole epoch seconds. Epochs are
        # positive, so integer division is a floor.
        return cast(func.strftime("%s", AppMetric.timestamp), Integer) // size

    async def metric_series(self, query: MetricQuery, bucket_starts: Sequence[datetime]) -> dict[str, list[int]]:
        """Sum of `count` per breakdown value and time bucket.

        Bucket `i` runs from `bucket_starts[i]` (ascending) up to the next start; the last one is
        open-ended, so callers bound the window with `query.before`. Rows before the first start
        are not counted. Only breakdown values with rows in the window appear.
        """
        if not bucket_starts:
            return {}
        size = _slice_seconds(bucket_starts)
        slice_index = self._epoch_slice(size).label("slice")
        rows = (await self.session.execute(self._metric_statement(query, slice_index))).all()
        edges = [_millis(start) // 1000 for start in bucket_starts]
        series: dict[str, list[int]] = {}
        for index, breakdown, total in rows:
            bucket = bisect_right(edges, int(index) * size) - 1
            values = series.setdefault(breakdown, [0] * len(bucket_starts))
            if bucket >= 0:
                values[bucket] += int(total or 0)
        return series

    async def metric_totals(self, query: MetricQuery) -> dict[str, int]:
        """Sum of `count` per breakdown value over the window (open on any side not given)."""
        rows = (await self.session.execute(self._metric_statement(query))).all()
        return {breakdown: int(total or 0) for breakdown, total in rows}

    async def metric_totals_by_instance(self, query: MetricQuery) -> dict[str, dict[str, int]]:
        """Sum of `count` per instance id (an action id for step metrics) and metric name, over the window."""
        statement = self._metric_statement(replace(query, breakdown_by="name"), AppMetric.instance_id).where(
            AppMetric.instance_id.is_not(None)
        )
        totals: dict[str, dict[str, int]] = defaultdict(dict)
        for instance_id, name, total in (await self.session.execute(statement)).all():
            totals[str(instance_id)][name] = int(total or 0)
        return dict(totals)

    async def totals_by_source(
        self, team_id: int, names: Sequence[str], after: datetime | None, before: datetime | None
    ) -> dict[str, dict[str, int]]:
        """Sum of `count` per source id (a flow or a batch job) and metric name, team-wide."""
        statement = select(AppMetric.app_source_id, AppMetric.metric_name, func.sum(AppMetric.count)).where(
            AppMetric.team_id == team_id,
            AppMetric.app_source == APP_SOURCE,
            AppMetric.metric_name.in_(list(names)),
        )
        if after is not None:
            statement = statement.where(AppMetric.timestamp >= after)
        if before is not None:
            statement = statement.where(AppMetric.timestamp <= before)
        statement = statement.group_by(AppMetric.app_source_id, AppMetric.metric_name)
        totals: dict[str, dict[str, int]] = defaultdict(dict)
        for source_id, name, total in (await self.session.execute(statement)).all():
            totals[str(source_id)][name] = int(total or 0)
        return dict(totals)
