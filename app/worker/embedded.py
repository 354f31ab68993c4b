"""The embedded runner: without Redis, `hogflows serve` executes runs in-process.

It is the same sweeper and processor as the worker pool, driven by a polling loop that
`WakeUpScheduler` can wake early when a run is created.
"""

import asyncio
import contextlib
from datetime import UTC, datetime

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.batch.queue import WakeUpBatchQueue
from app.batch.tasks import EmbeddedBatchWork
from app.config import Settings
from app.db.repositories.runs import RunRepository
from app.db.session import session_scope
from app.logging import database_error_summary
from app.observability.outage import Outage
from app.worker.housekeeping import Housekeeper
from app.worker.processor import RunProcessor
from app.worker.scheduling import WakeUpScheduler

logger = structlog.get_logger(__name__)


class EmbeddedRunner:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, poll_interval: float = 1.0
    ) -> None:
        self.sessionmaker = sessionmaker
        self.scheduler = WakeUpScheduler()
        self.processor = RunProcessor(sessionmaker, self.scheduler, settings=settings)
        self.batch = EmbeddedBatchWork(sessionmaker, self.scheduler, WakeUpBatchQueue(self.scheduler), settings)
        self.poll_interval = poll_interval
        self.outage = Outage("embedded runner")
        self.housekeeper = Housekeeper(sessionmaker, settings)
        self._task: asyncio.Task[None] | None = None

    async def run_due(self) -> int:
        async with session_scope(self.sessionmaker) as session:
            due = await RunRepository(session).due(datetime.now(UTC))
        for run_id, _pickups in due:
            try:
                await self.processor.process(run_id)
            except SQLAlchemyError as error:
                # The driver's message quotes the values it refused: types and place only.
                logger.error("app.worker.embedded.run_failed", run_id=str(run_id), **database_error_summary(error))
            except Exception:
                logger.exception("app.worker.embedded.run_failed", run_id=str(run_id))
        return len(due)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
                await self.batch.step()
                self.outage.recovered()
            except Exception as error:
                await asyncio.sleep(self.outage.failed(error))  # one line per outage, not a traceback a pass
            await self.housekeeper.run_once()
            self.scheduler.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.scheduler.wake.wait(), timeout=self.poll_interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
