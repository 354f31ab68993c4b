"""Retention: log lines, metric rows and finished runs older than their settings allow are deleted.

1. Each kind has its own setting in days (`HOGFLOWS_LOG_RETENTION_DAYS`, `..._METRIC_...`, `..._RUN_...`);
   0 keeps that kind forever.
2. Age is the log line's and metric row's `timestamp`, and a run's `finished_at`; runs still queued,
   running or waiting are never deleted, however old. A run's steps and send records go with it.
3. Deletion is in batches of `HOGFLOWS_RETENTION_BATCH` rows, one short transaction each. The sweeper
   deletes a few batches per pass (`purge_step`); `hogflows purge` loops until nothing old is left.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.repositories.retention import RetentionRepository
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.observability import metrics

_Deleter = Callable[[RetentionRepository, datetime, int], Awaitable[int]]

_KINDS: tuple[tuple[str, str, _Deleter], ...] = (
    ("log_entries", "log_retention_days", RetentionRepository.delete_logs_before),
    ("app_metrics", "metric_retention_days", RetentionRepository.delete_metrics_before),
    ("hog_flow_runs", "run_retention_days", RetentionRepository.delete_runs_finished_before),
)


async def purge_step(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime, max_batches: int | None
) -> dict[str, int]:
    """Delete up to `max_batches` batches of each kind (None: until none is left); rows deleted per table."""
    deleted: dict[str, int] = {}
    for table, setting, delete in _KINDS:
        days = getattr(settings, setting)
        deleted[table] = 0
        if days <= 0:
            continue
        cutoff = now - timedelta(days=days)
        batches = 0
        while max_batches is None or batches < max_batches:
            async with session_scope(sessionmaker) as session:
                count = await delete(RetentionRepository(session), cutoff, settings.retention_batch_size)
            metrics.retention_deleted(table, count)
            deleted[table] += count
            batches += 1
            if count < settings.retention_batch_size:
                break
    return deleted


async def purge_all(settings: Settings) -> dict[str, int]:
    """`hogflows purge`: everything past retention, now."""
    engine = create_engine(settings.database_url)
    try:
        return await purge_step(create_sessionmaker(engine), settings, datetime.now(UTC), max_batches=None)
    finally:
        await engine.dispose()
