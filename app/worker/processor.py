"""One pickup of a run: claim it with what the engine needs, execute, persist, schedule the next.

A pickup is two short units of work around the execution:
1. the claim: an `UPDATE … RETURNING` that leases the run (or several runs at once, fairly across teams,
   see `RunPool`), with the claimed runs' persons and last step numbers (on PostgreSQL in the same
   statement, committed when it returns; elsewhere one multi-row read each). Flows are kept per
   (id, updated_at) and read only when they changed (on PostgreSQL the claim returns each flow's `updated_at`);
2. the result: the run's new state (only if the lease is still ours: fencing), its steps, logs and metrics,
   and the completion of its send records; on PostgreSQL one statement for the results of several pickups
   (`persist_pickups_pg`), elsewhere, or with wait registrations to keep, one transaction.
A send record's pending row is committed on its own before its request leaves (see `function_steps`).
The lease taken by the claim keeps other workers off the run meanwhile and is renewed by the pool's
heartbeat; a pickup that lost its lease stores nothing but its send completions.
"""

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.asyncpg_direct import driver_connection, session_driver_connection
from app.db.models import HogFlow, HogFlowRun, Person, RunStatus
from app.db.repositories.hog_flow import HogFlowRevisionRepository
from app.db.repositories.observability import ObservabilityRepository, nudge_log_timestamps
from app.db.repositories.runs import (
    ClaimedPickup,
    FlowKey,
    PickupResult,
    RunRepository,
    cancels_requested_pg,
    claim_pickups_pg,
    fence_pg,
    finish_pickups_pg,
    insert_steps_pg,
    persist_pickups_pg,
)
from app.db.repositories.waits import WaitRepository, wake_runs
from app.db.session import retry_on_disconnect, session_scope
from app.engine.cancel import cancelled_late, cancelled_outcome
from app.engine.executor import ExecutorOptions, execute_pickup
from app.engine.functions import CallOutcome, SendKey
from app.engine.graph import FlowSnapshot
from app.engine.invocation import Invocation, Outcome
from app.engine.records import MetricRecord
from app.engine.waits import Wake, may_be_registered
from app.observability import metrics
from app.worker.coalesce import Coalescer
from app.worker.function_steps import (
    build_function_runner,
    completion_items,
    deferred_completions,
    store_completions,
)
from app.worker.scheduling import RUNS_PER_JOB, Scheduler

logger = structlog.get_logger(__name__)

DEFAULT_LEASE = timedelta(seconds=10)
# How long a busy worker's result waits for others to share its write (see `_ResultBatcher`).
RESULT_GATHER_SECONDS = 0.01
# Flows (and their snapshots) a worker keeps between claims; past this many the cache starts over.
FLOW_CACHE_SIZE = 1000


def worker_identity() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


async def _version_content(session: AsyncSession, run: HogFlowRun, flow: HogFlow | None) -> dict[str, Any] | None:
    """The content of the version the run started on, once the flow has moved past it.

    A run keeps its version's graph to the end (PostHog moves parked runs onto the new graph). The
    current version is the flow row itself; an older one is in the revisions table, which holds
    every version that was ever replaced.
    """
    if flow is None or run.version is None or run.version == flow.version:
        return None
    return await HogFlowRevisionRepository(session).content(flow.id, run.version)


def flow_snapshot(flow: HogFlow, content: dict[str, Any] | None = None) -> FlowSnapshot:
    source: dict[str, Any] = (
        content
        if content is not None
        else {
            "actions": flow.actions,
            "edges": flow.edges,
            "trigger": flow.trigger,
            "conversion": flow.conversion,
            "exit_condition": flow.exit_condition,
            "variables": flow.variables,
        }
    )
    stored_edges = source.get("edges")
    edges = stored_edges if isinstance(stored_edges, list) else []
    return FlowSnapshot(
        id=str(flow.id),
        team_id=flow.team_id,
        status=flow.status,
        actions=list(source.get("actions") or []),
        edges=edges,
        trigger=dict(source.get("trigger") or {}),
        conversion=source.get("conversion"),
        exit_condition=source.get("exit_condition") or flow.exit_condition,
        variables=list(source.get("variables") or []),
        updated_at=flow.updated_at,
        name=flow.name,
    )


def run_person_globals(person: Person, distinct_id: str | None) -> dict[str, Any]:
    return {"id": str(person.id), "properties": dict(person.properties or {}), "distinct_id": distinct_id}


@dataclass
class RunProcessor:
    sessionmaker: async_sessionmaker[AsyncSession]
    scheduler: Scheduler
    # Read by function steps (fetch and SMTP settings): the app's or the worker's.
    settings: Settings
    options: ExecutorOptions = field(default_factory=ExecutorOptions)
    lease: timedelta = DEFAULT_LEASE
    owner: str = field(default_factory=worker_identity)

    def __post_init__(self) -> None:
        self._executing = 0  # pickups between their claim and their result's submission
        self._results = _ResultBatcher(self._persist, busy=lambda: self._executing > 0)
        self._flow_cache: dict[UUID, HogFlow] = {}
        self._snapshots: dict[tuple[UUID, datetime], FlowSnapshot] = {}
        self._cancels: Coalescer[UUID, bool] = Coalescer(self._cancels_requested)
        # Single statements need no transaction: on PostgreSQL they skip BEGIN and COMMIT (two round-trips).
        self.engine: AsyncEngine = self.sessionmaker.kw["bind"]
        # PostgreSQL runs the hot statements on the asyncpg connection (see the end of app/db/repositories/runs.py).
        self.postgres = self.engine.dialect.name == "postgresql"
        self.autocommit = (
            async_sessionmaker(self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
            if self.postgres
            else self.sessionmaker
        )
        if self.options.run_function is None:
            runner = build_function_runner(self.sessionmaker, self.settings, self.scheduler)
            self.options = replace(self.options, run_function=runner)

    async def process(self, run_id: UUID) -> str | None:
        """Run one pickup of one run; returns the run's new status, or None when there was nothing to do."""

        async def claim() -> list[ClaimedPickup]:
            async with session_scope(self.sessionmaker) as session:
                runs = RunRepository(session)
                run = await runs.claim(run_id, self.owner, self.options.clock(), self.lease)
                return await runs.load_pickups([run] if run is not None else [])

        claimed = await retry_on_disconnect(claim)
        return await self.run_claimed(claimed[0]) if claimed else None

    async def claim_due(self, limit: int, per_team: int, allowances: dict[int, int]) -> list[ClaimedPickup]:
        """Claim up to `limit` due runs fairly across teams (see `RunRepository.claim_due`)."""

        async def claim() -> list[ClaimedPickup]:
            now = self.options.clock()
            if self.postgres:
                async with driver_connection(self.engine, transaction=False) as connection:
                    return await claim_pickups_pg(
                        connection,
                        self.owner,
                        now,
                        self.lease,
                        limit=limit,
                        per_team=per_team,
                        allowances=allowances,
                        flows=self._flows,
                    )
            async with session_scope(self.sessionmaker) as session:
                runs = RunRepository(session)
                claimed = await runs.claim_due(
                    self.owner, now, self.lease, limit=limit, per_team=per_team, allowances=allowances
                )
                return await runs.load_pickups(claimed)

        return await retry_on_disconnect(claim)

    async def _flows(self, keys: Sequence[FlowKey]) -> dict[UUID, HogFlow]:
        """Flows by (id, updated_at): every change to a flow moves its `updated_at`, so a flow is read again
        only after it changed (a deleted one has no `updated_at` and is not found)."""
        found: dict[UUID, HogFlow] = {}
        missing = []
        for flow_id, updated_at in keys:
            cached = self._flow_cache.get(flow_id)
            if cached is not None and updated_at is not None and cached.updated_at == updated_at:
                found[flow_id] = cached
            else:
                missing.append(flow_id)
        if missing:
            if len(self._flow_cache) > FLOW_CACHE_SIZE:
                self._flow_cache.clear()
                self._snapshots.clear()
            async with session_scope(self.sessionmaker) as session:
                for flow in await RunRepository(session).flows(missing):
                    self._flow_cache[flow.id] = found[flow.id] = flow
        return found

    def _snapshot(self, flow: HogFlow) -> FlowSnapshot:
        """The current version's snapshot, built once per flow and `updated_at` (the engine only reads it)."""
        key = (flow.id, flow.updated_at)
        snapshot = self._snapshots.get(key)
        if snapshot is None:
            if len(self._snapshots) > FLOW_CACHE_SIZE:
                self._snapshots.clear()
            snapshot = self._snapshots[key] = flow_snapshot(flow)
        return snapshot

    async def run_claimed(self, pickup: ClaimedPickup) -> str:
        """Execute a claimed pickup and store what it produced; logs one line for it."""
        run, started = pickup.run, time.monotonic()
        self._executing += 1
        try:
            with deferred_completions() as completions:
                try:
                    outcome, waits = await self._execute(pickup)
                except BaseException:
                    # A send that went out must still be recorded as done, whatever happened to the pickup.
                    if completions:
                        await self._store_completions(list(completions))
                    raise
        finally:
            self._executing -= 1
        stored = await self._results.submit(_Result(pickup, outcome, list(completions), *waits))
        logger.info(
            "app.worker.pickup",
            run_id=str(run.id),
            flow_id=str(run.hog_flow_id),
            team_id=run.team_id,
            pickup=run.pickups,
            outcome=outcome.status if stored else "lease_lost",
            steps=len(outcome.steps),
            duration_ms=round((time.monotonic() - started) * 1000, 1),
            error=outcome.error,
        )
        if stored and outcome.next_run_at is not None:
            await self.scheduler.schedule(run.id, run.pickups, outcome.next_run_at)
        return outcome.status

    async def _cancels_requested(self, run_ids: Sequence[UUID]) -> dict[UUID, bool]:
        # The step-boundary checks of every pickup in flight, one query for all that are waiting.
        if self.postgres:
            async with driver_connection(self.engine, transaction=False) as connection:
                return await cancels_requested_pg(connection, run_ids)
        async with session_scope(self.autocommit) as session:
            return await RunRepository(session).cancels_requested(run_ids)

    async def _execute(self, pickup: ClaimedPickup) -> tuple[Outcome, tuple[bool, int]]:
        """The outcome, and whether the run may have wait registrations with how many were matched."""
        run, flow = pickup.run, pickup.flow
        if flow is None:
            return Outcome(status=RunStatus.FAILED, state=run.state, error="Workflow not found"), (False, 0)
        person = run_person_globals(pickup.person, run.distinct_id) if pickup.person is not None else None
        if run.version is not None and run.version != flow.version:
            # Only runs that outlived a publish pay for this read: the graph of the version they started on.
            async with session_scope(self.sessionmaker) as session:
                content = await _version_content(session, run, flow)
            snapshot = flow_snapshot(flow, content)
        else:
            snapshot = self._snapshot(flow)
        registered = may_be_registered(run.state, snapshot)
        woken_by: list[Wake] = []
        if registered:
            # Only runs parked on a wait or listening for a conversion pay for this read.
            async with session_scope(self.sessionmaker) as session:
                woken_by = await WaitRepository(session).woken(run.id)
        invocation = Invocation(
            id=str(run.id),
            flow=snapshot,
            state=dict(run.state),
            person=person,
            parent_run_id=run.parent_run_id,
            cancel_check=lambda: self._cancels.get(run.id),
            woken_by=woken_by,
        )
        if run.cancel_requested:
            outcome = cancelled_outcome(invocation, self.options.clock)
        else:
            outcome = await execute_pickup(invocation, self.options)
        _add_run_level_metric(invocation, outcome, self.options)
        return outcome, (registered, len(woken_by))

    async def _persist(self, results: list["_Result"]) -> list[bool]:
        """Store the results of several pickups, each only if its lease is still ours: on PostgreSQL, those
        without wait registrations in one statement (`persist_pickups_pg`), the others in one transaction."""
        if not self.postgres:
            return await retry_on_disconnect(partial(self._persist_session, results))
        stored: dict[int, bool] = {}
        plain = [index for index, result in enumerate(results) if not _may_wait(result)]
        if plain:
            outcomes = await retry_on_disconnect(partial(self._persist_pg, [results[i] for i in plain]))
            stored.update(zip(plain, outcomes, strict=True))
        others = [index for index, result in enumerate(results) if index not in stored]
        if others:
            outcomes = await retry_on_disconnect(partial(self._persist_session, [results[i] for i in others]))
            stored.update(zip(others, outcomes, strict=True))
        return [stored[index] for index in range(len(results))]

    async def _persist_pg(self, results: list["_Result"]) -> list[bool]:
        now = self.options.clock()
        items = completion_items([c for result in results for c in result.completions])
        pickups = [
            PickupResult(
                run_id=r.pickup.run.id,
                pickups=r.pickup.run.pickups,
                status=r.outcome.status,
                state=r.outcome.state,
                next_run_at=r.outcome.next_run_at,
                error=r.outcome.error,
                steps=_step_rows(r),
                logs=nudge_log_timestamps(r.outcome.logs),
                metrics=r.outcome.metrics,
            )
            for r in results
        ]
        async with driver_connection(self.engine, transaction=False) as connection:
            owned = await persist_pickups_pg(connection, self.owner, now, pickups, items)
        # Held, but cancelled after the last step boundary without finishing: nothing of it was stored yet.
        late = [r for r in results if owned.get(r.pickup.run.id) and r.outcome.status not in RunStatus.FINISHED]
        ended: dict[UUID, bool] = {}
        if late:
            again = [replace(r, completions=[]) for r in late]
            kept = await retry_on_disconnect(partial(self._persist_session, again))
            ended = {r.pickup.run.id: ok for r, ok in zip(late, kept, strict=True)}
            for r, copy in zip(late, again, strict=True):
                r.outcome = copy.outcome
        stored = [ended.get(r.pickup.run.id, r.pickup.run.id in owned) for r in results]
        # The late ones were reported by the transaction that ended them.
        self._report([(r, ok) for r, ok in zip(results, stored, strict=True) if r.pickup.run.id not in ended])
        return stored

    def _report(self, results: list[tuple["_Result", bool]]) -> None:
        for result, ok in results:
            if ok:
                metrics.pickup(result.outcome.status, result.outcome.steps)
            else:
                # Another worker took the run over after our lease expired; its pickup wins.
                run = result.pickup.run
                logger.warning("app.worker.lease_lost", run_id=str(run.id), pickup=run.pickups)

    async def _persist_session(self, results: list["_Result"]) -> list[bool]:
        """Store the results of several pickups in one transaction, each only if its lease is still ours."""
        now = self.options.clock()
        async with session_scope(self.sessionmaker) as session:
            runs = RunRepository(session)
            connection = await session_driver_connection(session) if self.postgres else None
            held = [(r.pickup.run.id, r.pickup.run.pickups) for r in results]
            if connection is not None:
                owned = await fence_pg(connection, held, self.owner)
            else:
                owned = await runs.fence(held, self.owner)
            await store_completions(session, [c for result in results for c in result.completions])
            kept = [result for result in results if result.pickup.run.id in owned]
            for result in kept:
                if owned[result.pickup.run.id] and result.outcome.status not in RunStatus.FINISHED:
                    # The cancel arrived after the pickup's last step boundary: it ends the run now.
                    run = result.pickup.run
                    source_id = str(run.parent_run_id or run.hog_flow_id)
                    result.outcome = cancelled_late(
                        run.team_id, source_id, str(run.id), result.outcome, self.options.clock
                    )
            finished = [
                {
                    "id": r.pickup.run.id,
                    "status": r.outcome.status,
                    "state": r.outcome.state,
                    "next_run_at": r.outcome.next_run_at,
                    "error": r.outcome.error,
                }
                for r in kept
            ]
            steps = [row for r in kept for row in _step_rows(r)]
            if connection is not None:
                await finish_pickups_pg(connection, finished, now)
                await insert_steps_pg(connection, steps)
            else:
                await runs.finish_pickups(finished, now)
                await runs.insert_steps(steps)
            waits = WaitRepository(session)
            for r in kept:
                if await _store_waits(waits, r, now):
                    # An event matched while this pickup ran: the run parked on the wrong instant.
                    await wake_runs(session, [r.pickup.run.id], now)
                    r.outcome.next_run_at = now
            observability = ObservabilityRepository(session)
            await observability.add_logs([log for r in kept for log in r.outcome.logs])
            await observability.add_metrics([metric for r in kept for metric in r.outcome.metrics])
        stored = [result.pickup.run.id in owned for result in results]
        self._report(list(zip(results, stored, strict=True)))
        return stored

    async def _store_completions(self, completions: list[tuple[SendKey, CallOutcome]]) -> None:
        async with session_scope(self.sessionmaker) as session:
            await store_completions(session, completions)

    async def release(self, run_ids: list[UUID]) -> list[tuple[UUID, int]]:
        """Give back runs this worker holds and will not finish, and queue them for any worker."""
        now = self.options.clock()
        async with session_scope(self.sessionmaker) as session:
            released = await RunRepository(session).release_leases(run_ids, self.owner, now)
        for run_id, pickups in released:
            await self.scheduler.schedule(run_id, pickups, now, retry_key=f"released-{self.owner}")
        return released


def _may_wait(result: "_Result") -> bool:
    """Whether storing the result involves wait registrations (see `_store_waits`)."""
    outcome = result.outcome
    return result.registered or outcome.step_waits is not None or bool(outcome.conversion_waits)


def _step_rows(result: "_Result") -> list[dict[str, Any]]:
    run, after = result.pickup.run, result.pickup.last_seq
    return [
        {"run_id": run.id, "seq": after + 1 + offset, "pickup": run.pickups} | step.__dict__
        for offset, step in enumerate(result.outcome.steps)
    ]


@dataclass
class _Result:
    pickup: ClaimedPickup
    outcome: Outcome
    completions: list[tuple[SendKey, CallOutcome]]
    registered: bool = False  # the run may have wait registrations (app.engine.waits.may_be_registered)
    seen_matches: int = 0  # matched registrations the pickup saw


async def _store_waits(waits: WaitRepository, result: _Result, now: datetime) -> bool:
    """Keep the run's wait registrations in step with the pickup; True when something may already wake it.

    Runs that had none and make none cost no query."""
    run, outcome = result.pickup.run, result.outcome
    registers = outcome.step_waits is not None or bool(outcome.conversion_waits)
    if not result.registered and not registers:
        return False
    if outcome.status in RunStatus.FINISHED:
        await waits.clear(run.id)
        return False
    person = result.pickup.person
    if person is not None and registers:
        await waits.store(
            run, person.id, step_waits=outcome.step_waits, conversion_waits=outcome.conversion_waits, now=now
        )
    elif outcome.step_waits is not None:
        await waits.clear(run.id)
    if outcome.status != RunStatus.WAITING:
        return False
    # A match, or a change to the person, that landed while this pickup ran (after it read them) found the
    # run running and woke nothing: the run would otherwise wait for its deadline.
    matched, person_changed = await waits.since_pickup(run.id, person)
    return matched > result.seen_matches or person_changed


class _ResultBatcher:
    """Group commit: results that finish while a write is in flight are stored together by the next one.

    An idle worker writes a result at once; a busy one (`busy()`: other pickups are still executing) first
    waits `gather` seconds for more, so a burst's pickups share statements and commits (each commit a WAL
    flush on the server) instead of taking one each as a quick write would leave them.
    """

    def __init__(
        self,
        write: Callable[[list[_Result]], Awaitable[list[bool]]],
        batch: int = 100,
        busy: Callable[[], bool] = lambda: False,
        gather: float = RESULT_GATHER_SECONDS,
    ) -> None:
        self.write = write
        self.batch = batch
        self.busy = busy
        self.gather = gather
        self.pending: list[tuple[_Result, asyncio.Future[bool]]] = []
        self.flushing = False
        self.task: asyncio.Task[None] | None = None

    async def submit(self, result: _Result) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append((result, future))
        if not self.flushing:
            self.flushing = True
            self.task = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self.pending:
                if len(self.pending) < self.batch and self.busy():
                    await asyncio.sleep(self.gather)
                batch, self.pending = self.pending[: self.batch], self.pending[self.batch :]
                try:
                    stored = await self.write([result for result, _ in batch])
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), ok in zip(batch, stored, strict=True):
                    if not future.done():
                        future.set_result(ok)
        finally:
            self.flushing = False


def _add_run_level_metric(invocation: Invocation, outcome: Outcome, options: ExecutorOptions) -> None:
    names = {RunStatus.COMPLETED: ("success", "succeeded"), RunStatus.FAILED: ("failure", "failed")}
    if outcome.status not in names:
        return
    kind, name = names[outcome.status]
    outcome.metrics.append(
        MetricRecord(
            team_id=invocation.team_id,
            app_source_id=invocation.source_id,
            instance_id=None,
            metric_kind=kind,
            metric_name=name,
            timestamp=options.clock(),
        )
    )


async def sweep(
    sessionmaker: async_sessionmaker[AsyncSession], scheduler: Scheduler, now: datetime, grace: timedelta
) -> int:
    """Wake workers for the runs that are overdue by `grace` or whose worker vanished; how many there are.
    Safe on every worker at once.

    A run still due after the grace lost its job (Redis flushed), its job is held by a worker that died,
    or the workers are behind. A job only wakes a worker, which claims due runs until none are left, so
    one job per `RUNS_PER_JOB` overdue runs is queued (not one per run: under a backlog that would flood
    the queue with jobs that each find nothing to do); each with a job id of its own per grace window,
    so at most one extra job per window.
    """
    async with session_scope(sessionmaker) as session:
        due = await RunRepository(session).due(now, overdue_by=grace)
    window = f"sweep-{int(now.timestamp() // max(grace.total_seconds(), 1))}"
    for run_id, pickups in due[::RUNS_PER_JOB]:
        await scheduler.schedule(run_id, pickups, now, retry_key=window)
    return len(due)
