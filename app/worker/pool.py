"""A worker's run pool: claims due runs fairly across teams and executes them concurrently.

1. A pump claims due runs from the database whenever it is kicked (an arq job fired, a pickup ended, the
   sweeper ran, a run was scheduled in-process) or, in the embedded mode, every `poll_interval`. It claims
   as many as there are free slots, round-robin over teams, in one statement (see
   `RunRepository.claim_due`), so throughput is not capped by one queue job per run and one team's
   backlog cannot hold back another team's run. No team gets more than `team_cap` slots.
   A nearly full pool (fewer than a quarter of its slots free) first waits `CLAIM_GATHER_SECONDS` for
   more pickups to end, so under load a claim fills several slots at once.
2. Each claimed run executes as its own task (`RunProcessor.run_claimed`); when it ends the pump is
   kicked to refill the slot.
3. A heartbeat renews the leases of the runs in flight every third of the lease, so the lease can be
   short: a dead worker's runs are free again after about one lease.
4. `close(grace)` stops claiming, lets pickups in flight finish for `grace` seconds, cancels the rest and
   gives their leases back (and queues them) so another worker takes them at once. A cancelled pickup
   stores nothing; a send it had started stays pending in the ledger and is never sent again.

Queue jobs only wake pumps: PostgreSQL decides who runs what. A kick that arrives while the pump is
claiming is kept (the event is cleared before the claim), so no wake-up is lost.
"""

import asyncio
import contextlib
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from uuid import UUID

import structlog
from sqlalchemy.exc import SQLAlchemyError

from app.db.repositories.runs import ClaimedPickup, RunRepository
from app.db.session import retry_on_disconnect, session_scope
from app.logging import database_error_summary
from app.observability.outage import Outage
from app.worker.processor import RunProcessor

logger = structlog.get_logger(__name__)

# How long a nearly full pool waits for more free slots before claiming into the few it has.
CLAIM_GATHER_SECONDS = 0.02


class RunPool:
    def __init__(
        self,
        processor: RunProcessor,
        *,
        concurrency: int,
        team_cap: int,
        poll_interval: float | None = None,
    ) -> None:
        self.processor = processor
        self.concurrency = concurrency
        self.team_cap = max(1, min(team_cap, concurrency))
        self.min_claim = max(1, concurrency // 4)
        self.poll_interval = poll_interval
        self.inflight: dict[UUID, tuple[int, asyncio.Task[None]]] = {}
        self.team_counts: Counter[int] = Counter()
        self._kick = asyncio.Event()
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def lease(self) -> timedelta:
        return self.processor.lease

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._pump()), asyncio.create_task(self._heartbeat())]
        self.kick()

    def kick(self) -> None:
        self._kick.set()

    async def _pump(self) -> None:
        outage = Outage("run claims", base_seconds=0.5, cap_seconds=10.0)
        while not self._closing:
            if self.poll_interval is None:
                await self._kick.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._kick.wait(), timeout=self.poll_interval)
            self._kick.clear()
            try:
                while not self._closing and await self._fill():
                    pass
                outage.recovered()
            except Exception as error:
                # The database is down or refused: one line when claims stop, one when they resume; back off.
                await asyncio.sleep(max(outage.failed(error), 0.5))
                self.kick()

    async def _fill(self) -> bool:
        """Claim into the free slots; True when every free slot got a run (there may be more)."""
        free = self.concurrency - len(self.inflight)
        if free <= 0:
            return False
        if free < self.min_claim and self.inflight:
            # A busy pool: let a few more pickups end so one claim fills several slots (a claim costs the
            # same few statements for one run or twenty). An idle or half-idle pool claims at once.
            await asyncio.sleep(CLAIM_GATHER_SECONDS)
            free = self.concurrency - len(self.inflight)
        allowances = {team: self.team_cap - count for team, count in self.team_counts.items() if count}
        claimed = await self.processor.claim_due(free, self.team_cap, allowances)
        for pickup in claimed:
            self._launch(pickup)
        return len(claimed) == free

    def _launch(self, pickup: ClaimedPickup) -> None:
        run = pickup.run
        self.team_counts[run.team_id] += 1
        task = asyncio.create_task(self._execute(pickup))
        self.inflight[run.id] = (run.team_id, task)

    async def _execute(self, pickup: ClaimedPickup) -> None:
        run = pickup.run
        try:
            await self.processor.run_claimed(pickup)
        except SQLAlchemyError as error:
            # The driver's message may quote the values it refused: the types and the place only.
            logger.error(
                "app.worker.pickup_crashed", run_id=str(run.id), team_id=run.team_id, **database_error_summary(error)
            )
        except Exception:
            # The lease runs out (the heartbeat no longer renews it) and the run is picked up again.
            logger.exception("app.worker.pickup_crashed", run_id=str(run.id), team_id=run.team_id)
        finally:
            self.inflight.pop(run.id, None)
            self.team_counts[run.team_id] -= 1
            if self.team_counts[run.team_id] <= 0:
                del self.team_counts[run.team_id]
            self.kick()

    async def _heartbeat(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.2)
        while True:
            await asyncio.sleep(interval)
            run_ids = list(self.inflight)
            if not run_ids:
                continue
            until = self.processor.options.clock() + self.lease
            try:
                await retry_on_disconnect(partial(self._renew, run_ids, until))
            except Exception as error:
                logger.warning("app.worker.heartbeat_failed", error=f"{type(error).__name__}: {error}")

    async def _renew(self, run_ids: list[UUID], until: datetime) -> None:
        async with session_scope(self.processor.autocommit) as session:
            await RunRepository(session).renew_leases(run_ids, self.processor.owner, until)

    async def close(self, grace: float) -> None:
        """Stop claiming; wait up to `grace` for pickups in flight; give back the runs not finished."""
        self._closing = True
        pump, heartbeat = self._tasks or (None, None)
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        tasks = [task for _team, task in self.inflight.values()]
        if tasks:
            logger.info("app.worker.draining", runs=len(tasks), grace_seconds=grace)
            await asyncio.wait(tasks, timeout=grace)
        unfinished = list(self.inflight)
        for _team, task in list(self.inflight.values()):
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if heartbeat is not None:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        if unfinished:
            released = await self.processor.release(unfinished)
            logger.info("app.worker.released", runs=len(released), run_ids=[str(run_id) for run_id, _ in released])
