"""What the sweeper does besides queueing runs: sample the queue gauges and apply retention.

Every process that sweeps (each `hogflows worker`, or the API's embedded runner) does both; the
gauges keep the most recent sample and retention batches skip rows another process is deleting.
"""

import time
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.repositories.retention import RetentionRepository
from app.db.session import session_scope
from app.observability import metrics
from app.observability.outage import Outage
from app.services.retention import purge_step

# Retention has no hurry: a few batches a minute keep up with any sane write rate without long locks.
RETENTION_INTERVAL_SECONDS = 60.0
RETENTION_BATCHES_PER_PASS = 5


class Housekeeper:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.outage = Outage("housekeeping")
        self._next_purge = 0.0
        self._next_sample = 0.0

    async def run_once(self) -> None:
        """Called as often as the caller likes; does the work at most once per sweep interval."""
        if self.outage.waiting() or time.monotonic() < self._next_sample:
            return
        # A little under the interval, so a cron firing every interval never finds itself early.
        self._next_sample = time.monotonic() + max(0.0, self.settings.sweep_interval_seconds - 0.5)
        try:
            now = datetime.now(UTC)
            async with session_scope(self.sessionmaker) as session:
                lag, by_status = await RetentionRepository(session).queue_sample(now)
            metrics.queue_sample(lag, by_status)
            if time.monotonic() >= self._next_purge:
                await purge_step(self.sessionmaker, self.settings, now, max_batches=RETENTION_BATCHES_PER_PASS)
                self._next_purge = time.monotonic() + RETENTION_INTERVAL_SECONDS
            self.outage.recovered()
        except Exception as error:
            self.outage.failed(error)
