"""Group commit for capture requests: the events of requests that arrive while a team's write is in flight are
ingested together by the next write, in one transaction.

An idle API process ingests a request at once (no timer); a busy one runs the pipeline once per group, so
persons, wait wake-ups, runs and metrics are a few multi-row statements per group instead of per request.
Each request is answered only after the transaction holding its events has committed, as before. Events
keep their arrival order, so person updates apply in the order they were sent. While the team is busy, a
group leaves its metric counts to the next group, for at most a second (`app.ingest.pipeline.HeldCounts`):
they would be most of a group's rows (at a thousand flows, the not-named `filtered` counts alone). A group
that held them and that no group follows writes them before it answers. A drain whose last groups all fail
drops the counts they held.

Groups are pipelined two deep: once a group is at its last statement (runs, logs and metrics) with nothing
written before it, the next group (the requests waiting then, or the next to arrive) already reads persons,
matches and takes its rate-limit tokens on a second connection; its transaction begins, and its last
statement goes, only once the group before has committed (`WriteConnections.session(after=...)`). A group
that wrote persons or waits first lets the next one start only once it has committed, so a group always
reads what the groups before it wrote.

A group whose write fails is retried request by request, so one request's bad data (or a lost connection)
fails only that request. (The retried requests' masking counters and rate-limit tokens, kept in Redis, were
already counted once by the failed attempt: on that error path a masked flow may let one invocation fewer
through.)
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.asyncpg_direct import WriteConnections
from app.db.base import utcnow
from app.db.models import Team
from app.ingest.events import IncomingEvent
from app.ingest.pipeline import HeldCounts, IngestServices, ingest_events, write_held_counts
from app.worker.scheduling import Scheduler, schedule_runs, schedule_woken_runs

logger = structlog.get_logger(__name__)

# Events per transaction: bounds a group's statement sizes and the time its first request waits.
MAX_GROUP_EVENTS = 1000


@dataclass
class _Request:
    events: Sequence[IncomingEvent]
    # Set once the group's transaction has committed, to the queueing of its runs (or None).
    done: "asyncio.Future[asyncio.Future[None] | None]"


@dataclass
class _TeamQueue:
    team: Team
    pending: list[_Request] = field(default_factory=list)
    writing: bool = False
    groups: int = 0  # groups in flight
    arrived: "asyncio.Future[None] | None" = None  # set by the next request, for a drain waiting for one
    held: HeldCounts = field(init=False)

    def __post_init__(self) -> None:
        self.held = HeldCounts(more_coming=lambda: bool(self.pending) or self.groups > 1)


class IngestBatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        services: IngestServices,
        scheduler: Scheduler,
        *,
        clock: Callable[[], datetime] = utcnow,
        max_events: int = MAX_GROUP_EVENTS,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.services = services
        self.scheduler = scheduler
        self.clock = clock
        self.max_events = max_events
        self._queues: dict[int, _TeamQueue] = {}
        # Scheduling runs after a commit is not awaited by the next group; kept here so it is not collected.
        self._background: set[asyncio.Future[None]] = set()
        self._to_schedule: list[tuple[list[UUID], list[tuple[UUID, int]], datetime, asyncio.Future[None]]] = []
        self._scheduling = False

    async def ingest(self, team: Team, events: Sequence[IncomingEvent]) -> None:
        """Ingest one request's events of `team`; returns once they are committed (their runs are then queued)."""
        queue = self._queues.get(team.id)
        if queue is None:
            queue = self._queues[team.id] = _TeamQueue(team)
        queue.team = team  # the latest cached copy
        request = _Request(events, asyncio.get_running_loop().create_future())
        queue.pending.append(request)
        if queue.arrived is not None and not queue.arrived.done():
            queue.arrived.set_result(None)
        if not queue.writing:
            queue.writing = True
            self._spawn(self._drain(queue))
        scheduling = await request.done
        if scheduling is not None:
            # Like a response's background task: the runs are queued before the request is over, while
            # the next group is already being written.
            await asyncio.shield(scheduling)

    def _spawn(self, work: Awaitable[None]) -> asyncio.Future[None]:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _drain(self, queue: _TeamQueue) -> None:
        # Groups alternate between two connections: a group reads while the one before it commits.
        connections = [WriteConnections(self.sessionmaker), WriteConnections(self.sessionmaker)]
        writes: list[asyncio.Future[None]] = []  # groups in flight, oldest first (at most two)
        try:
            while queue.pending or writes:
                if queue.pending:
                    group = self._take(queue)
                    queue.groups += 1
                    connections.reverse()
                    next_may_start: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    previous = writes[-1] if writes else None
                    write = asyncio.ensure_future(
                        self._write_group(queue, group, connections[0], previous, next_may_start)
                    )
                    writes.append(write)
                    await asyncio.wait([next_may_start, write], return_when=asyncio.FIRST_COMPLETED)
                else:
                    # The last group is at its last statement or done: the next request may start a group.
                    queue.arrived = asyncio.get_running_loop().create_future()
                    await asyncio.wait([writes[-1], queue.arrived], return_when=asyncio.FIRST_COMPLETED)
                    queue.arrived = None
                writes = [pending for pending in writes if not pending.done()]
        except BaseException as error:  # cancelled (shutdown): nobody may wait forever
            for in_flight in writes:
                in_flight.cancel()
            await asyncio.gather(*writes, return_exceptions=True)
            _settle(queue.pending, error)
            queue.pending.clear()
            raise
        finally:
            queue.writing = False
            if not queue.pending:
                self._queues.pop(queue.team.id, None)
            for held in connections:
                await held.close()

    async def _write_group(
        self,
        queue: _TeamQueue,
        group: list[_Request],
        connections: WriteConnections,
        previous: "asyncio.Future[None] | None",
        next_may_start: "asyncio.Future[None]",
    ) -> None:
        """Write a group after `previous`; the next group may start reading once this one is at its last
        statement with nothing written before it (else once this one is done)."""

        def last_write(wrote: bool) -> None:
            if not wrote and not next_may_start.done():
                next_may_start.set_result(None)

        try:
            try:
                await self._write(queue, group, connections, previous, last_write)
            except Exception as error:
                if previous is not None:  # retries go after the group before (this one may have failed first)
                    await asyncio.wait([previous])
                if len(group) == 1:
                    _settle(group, error)
                    return
                for request in group:
                    try:
                        await self._write(queue, [request], connections, None, None)
                    except Exception as single:
                        _settle([request], single)
        except BaseException as error:
            _settle(group, error)
            raise
        finally:
            queue.groups -= 1

    async def _write_held(self, queue: _TeamQueue, connections: WriteConnections) -> None:
        counts = queue.held.take()
        try:
            async with connections.session() as session:
                await write_held_counts(session, queue.team.id, counts, self.clock())
        except Exception:
            logger.warning("app.ingest.held_counts_lost", exc_info=True)

    def _take(self, queue: _TeamQueue) -> list[_Request]:
        group: list[_Request] = []
        size = 0
        while queue.pending and (not group or size + len(queue.pending[0].events) <= self.max_events):
            request = queue.pending.pop(0)
            group.append(request)
            size += len(request.events)
        return group

    async def _write(
        self,
        queue: _TeamQueue,
        group: list[_Request],
        connections: WriteConnections,
        previous: "asyncio.Future[None] | None",
        last_write: Callable[[bool], None] | None,
    ) -> None:
        now = self.clock()
        events = [event for request in group for event in request.events]
        woken: list[tuple[UUID, int]] = []
        async with connections.session(after=previous) as session:
            run_ids = await ingest_events(
                session, queue.team, events, self.services, now, woken, queue.held, last_write
            )
        queue.held.committed()
        if queue.held.counts and not queue.held.followed:
            await self._write_held(queue, connections)  # no group follows to write them
        _settle(group, None, self._schedule(run_ids, woken, now) if run_ids or woken else None)

    def _schedule(self, run_ids: list[UUID], woken: list[tuple[UUID, int]], now: datetime) -> asyncio.Future[None]:
        """Queue a group's runs; groups that commit while a queueing is in flight are queued together by the
        next one (fewer, fuller wake-up jobs: see `schedule_runs`)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._to_schedule.append((run_ids, woken, now, done))
        if not self._scheduling:
            self._scheduling = True
            self._spawn(self._drain_scheduling())
        return done

    async def _drain_scheduling(self) -> None:
        try:
            while self._to_schedule:
                batch, self._to_schedule = self._to_schedule, []
                now = max(item[2] for item in batch)
                run_ids = [run_id for item in batch for run_id in item[0]]
                woken = [run for item in batch for run in item[1]]
                try:
                    # Both log and swallow their failures: the runs are due in PostgreSQL either way.
                    if run_ids:
                        await schedule_runs(self.scheduler, run_ids, now)
                    if woken:
                        await schedule_woken_runs(self.scheduler, woken, now)
                finally:
                    _resolve(batch)
        finally:
            self._scheduling = False
            if self._to_schedule:  # cancelled (shutdown): nobody waits forever; the sweeper queues the runs
                _resolve(self._to_schedule)
                self._to_schedule = []

    async def close(self) -> None:
        """Wait for the scheduling still in flight (the runs are committed; the sweeper queues any left)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


def _resolve(batch: list[tuple[list[UUID], list[tuple[UUID, int]], datetime, asyncio.Future[None]]]) -> None:
    for *_, done in batch:
        if not done.done():
            done.set_result(None)


def _settle(
    group: list[_Request], error: BaseException | None, scheduling: "asyncio.Future[None] | None" = None
) -> None:
    for request in group:
        if request.done.done():
            continue
        if error is None:
            request.done.set_result(scheduling)
        elif isinstance(error, asyncio.CancelledError):
            request.done.cancel()
        else:
            request.done.set_exception(error)
