"""The embedded runner: without Redis, `hogflows serve` executes runs in-process.

It is the worker's run pool (`RunPool`: up to `HOGFLOWS_WORKER_CONCURRENCY` runs at once, fair across
teams) polling the database every `poll_interval` and kicked early whenever a run is scheduled; batch
work (schedules, audience resolution) has a loop of its own so it never holds runs back.
"""

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.batch.queue import WakeUpBatchQueue
from app.batch.tasks import EmbeddedBatchWork
from app.config import Settings
from app.observability.outage import Outage
from app.worker.housekeeping import Housekeeper
from app.worker.pool import RunPool
from app.worker.processor import RunProcessor
from app.worker.scheduling import WakeUpScheduler

logger = structlog.get_logger(__name__)


class EmbeddedRunner:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, poll_interval: float = 1.0
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.scheduler = WakeUpScheduler()
        self.processor = RunProcessor(
            sessionmaker, self.scheduler, settings=settings, lease=timedelta(seconds=settings.run_lease_seconds)
        )
        self.pool = RunPool(
            self.processor,
            concurrency=settings.worker_concurrency,
            team_cap=settings.team_concurrency_cap,
            poll_interval=poll_interval,
        )
        self.scheduler.on_schedule = self.pool.kick
        self.batch = EmbeddedBatchWork(sessionmaker, self.scheduler, WakeUpBatchQueue(self.scheduler), settings)
        self.poll_interval = poll_interval
        self.outage = Outage("embedded runner")
        self.housekeeper = Housekeeper(sessionmaker, settings)
        self._batch_task: asyncio.Task[None] | None = None

    async def _batch_loop(self) -> None:
        wake = self.scheduler.wake
        while True:
            # Cleared before the step: a wake-up that arrives during it runs the loop again at once.
            wake.clear()
            try:
                await self.batch.step()
                self.outage.recovered()
            except Exception as error:
                await asyncio.sleep(self.outage.failed(error))  # one line per outage, not a traceback a pass
            await self.housekeeper.run_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.poll_interval)

    def start(self) -> None:
        self.pool.start()
        self._batch_task = asyncio.create_task(self._batch_loop())

    async def stop(self) -> None:
        if self._batch_task is not None:
            self._batch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._batch_task
        await self.pool.close(self.settings.shutdown_grace_seconds)
