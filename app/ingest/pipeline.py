"""The event trigger pipeline (executor.md §3.1): events in, runs of matching flows out.

For one request's events of one team, in order:

1. person processing (`$set`, `$set_once`, `$identify`, `$create_alias`);
2. for each event x active event-triggered flow that names the event (or matches any event; the index in
   app/ingest/flows.py): the trigger filter (`filtered`, `filtering_failed`); events a flow does not
   name count as `filtered` for it without being evaluated. Filters the fast path answers run on the
   event loop; the others run off it, within one VM budget per request (`app.ingest.vm_budget`);
3. trigger masking (`masked`; fails closed when the store is unavailable);
4. the per-flow token bucket (`rate_limited` plus a warn log; fails open);
5. a queued run per survivor (`triggered`), its state per §2.3 with the event frozen in `state.event`;
6. right after step 1, whether or not any flow triggers: runs parked on a wait (or listening for a
   conversion) that these events match, or whose person they changed, wake (`app.ingest.waits`:
   one indexed query per request, none when step 1 found that no person of the request has any).

The metric counts of steps 2-5 may be held for the team's next group (`HeldCounts`).

Differences from PostHog: it evaluates every flow for every event and counts `filtered` in its metrics
batch. Here a group's counts are a row per (flow, name), most of a group's write (at a thousand flows,
a row per flow for the not-named `filtered` alone), so a busy team's consecutive groups add them up and
write them once, at most `HeldCounts.MAX_HOLD` seconds later (a client reading metrics while the team's
capture is busy may see them that much late, as PostHog's metrics, which go through Kafka, are). Logs
and runs are written by their own group.

Masking runs before rate limiting on purpose (PostHog does the reverse): invocations a frequency cap
drops anyway should not use up the flow's tokens. Everything is written in the caller's transaction;
the caller schedules the returned runs once it has committed.
"""

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.asyncpg_direct import after_previous, began
from app.db.base import uuid7
from app.db.models import Team
from app.db.repositories.ingest import IngestRepository, NewRun
from app.db.repositories.persons import PersonRepository, PersonRow
from app.engine.invocation import initial_state
from app.engine.records import LogRecord, MetricRecord
from app.filters import FilterResult, build_filter_globals, evaluate_filters_fast
from app.hog import Limits
from app.hog.budget import bounded
from app.ingest.events import IncomingEvent, event_globals
from app.ingest.flows import EventFlow, EventFlowCache, FlowIndex
from app.ingest.masking import (
    HASH_LIMITS,
    NEEDS_VM,
    fast_mask_digest,
    mask_digest,
    masking_store_key,
    masking_threshold,
    masking_ttl,
    passes,
)
from app.ingest.persons import apply_person_updates
from app.ingest.stores import CounterIncrement, TokenBucket, TriggerStore
from app.ingest.teams import TeamTokenCache
from app.ingest.vm_budget import LoopYielder, VmBudget, filter_on_vm
from app.ingest.waits import wake_waiting_runs
from app.observability import metrics

# One filter (a client's `hogql` property may loop) gets at most this long, within the request's VM
# budget (`app.ingest.vm_budget`); past it the event counts as `filtering_failed` for that flow.
TRIGGER_FILTER_LIMITS = Limits(timeout_s=0.1)


@dataclass(frozen=True)
class IngestServices:
    """Long-lived collaborators, built once per app (see app/main.py)."""

    store: TriggerStore
    flows: EventFlowCache
    teams: TeamTokenCache
    bucket: TokenBucket
    site_url: str


@dataclass
class _Candidate:
    """An event that matched a flow's trigger filter and may become a run."""

    flow: EventFlow
    event: IncomingEvent
    globals: dict[str, Any]
    person: PersonRow | None
    invocation_id: UUID = field(default_factory=uuid7)


@dataclass
class _Records:
    team_id: int
    now: datetime
    logs: list[LogRecord] = field(default_factory=list)
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    unnamed: Counter[str] = field(default_factory=Counter)  # `filtered` of flows the events do not name

    def count(self, flow: EventFlow, name: str, kind: str = "other", amount: int = 1) -> None:
        if amount:
            self.counts[(flow.source_id, kind, name)] += amount

    def log(self, flow: EventFlow, instance_id: str, level: str, message: str) -> None:
        self.logs.append(LogRecord(self.team_id, flow.source_id, instance_id, self.now, level, message))

    def own_counts(self) -> Counter[tuple[str, str, str]]:
        """The group's counts, its not-named `filtered` ones included."""
        counts = self.counts.copy()
        for source_id, count in self.unnamed.items():
            counts[(source_id, "other", "filtered")] += count
        return counts

    def metrics(self, counts: Counter[tuple[str, str, str]]) -> list[MetricRecord]:
        return [
            MetricRecord(self.team_id, source_id, None, kind, name, self.now, count)
            for (source_id, kind, name), count in counts.items()
        ]


@dataclass
class HeldCounts:
    """A team's metric counts, held between its consecutive capture groups.

    A group holds its counts (and those held before) for the next group when one follows (`more_coming()`)
    or followed the group before it once that one had committed (a busy team), and the oldest held count
    is younger than `MAX_HOLD` seconds; otherwise it writes them. A group that held, and that no group
    follows once it has committed, writes them then (`take`), before its requests are answered."""

    more_coming: Callable[[], bool]
    # Seconds a count may be held: a busy team writes its counts (at a thousand flows, a thousand rows of
    # not-named `filtered`) once per this rather than once per group.
    MAX_HOLD = 1.0

    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (source id, kind, name)
    since: float | None = None  # time.monotonic() of the oldest held count
    group: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # the group being written: its own
    holding: bool = False  # the group being written leaves its counts to the next
    followed: bool = False  # a group followed the last one once it had committed

    def decide(self) -> bool:
        """Whether the group about to write holds its counts; decided just before its last statement."""
        busy = self.followed or self.more_coming()
        self.holding = busy and (self.since is None or time.monotonic() - self.since < self.MAX_HOLD)
        return self.holding

    def committed(self) -> None:
        """Once the group's transaction has committed: hold its counts too, or forget the ones it wrote."""
        if self.holding:
            self.counts.update(self.group)
            self.since = self.since or time.monotonic()
        else:
            self.counts.clear()
            self.since = None
        self.group, self.holding = Counter(), False
        self.followed = self.more_coming()

    def take(self) -> Counter[tuple[str, str, str]]:
        """The held counts, to be written now: no longer held."""
        counts, self.counts, self.since = self.counts, Counter(), None
        return counts


async def write_held_counts(
    session: AsyncSession, team_id: int, counts: Counter[tuple[str, str, str]], now: datetime
) -> None:
    """Write counts a team's groups held (`HeldCounts.take`) in a statement of their own."""
    await IngestRepository(session).write_outcome(team_id, [], [], _Records(team_id, now).metrics(counts), now)


def project_url(site_url: str, team_id: int) -> str:
    return f"{site_url.rstrip('/')}/project/{team_id}"


def masking_person_globals(person: PersonRow, distinct_id: str, project: str) -> dict[str, Any]:
    """The `person` a masking hash sees (PostHog's HogFunction person globals)."""
    properties = dict(person.properties or {})
    name = properties.get("email") or properties.get("name") or distinct_id
    return {"id": str(person.id), "properties": properties, "name": name, "url": f"{project}/person/{distinct_id}"}


async def ingest_events(
    session: AsyncSession,
    team: Team,
    events: Sequence[IncomingEvent],
    services: IngestServices,
    now: datetime,
    woken: list[tuple[UUID, int]] | None = None,
    held: HeldCounts | None = None,
    last_write: Callable[[bool], None] | None = None,
) -> list[UUID]:
    """Process one request's events; returns the ids of the runs created (not yet committed).

    Parked runs the events woke are appended to `woken` as (run id, pickups) for the scheduler. With
    `held`, the metric counts are held or written with the held ones (`HeldCounts`); the caller calls
    `held.committed()` once the transaction has committed. Before its last statement
    (or where it would be), once the write the session comes after is done (`WriteConnections.session`),
    `last_write(wrote)` is called: `wrote` says whether anything was written before it."""
    metrics.events_received(len(events))
    persons = await apply_person_updates(PersonRepository(session), team.id, events)
    project = project_url(services.site_url, team.id)
    # Every VM program of the request (wait filters, trigger filters, masking hashes) shares one budget.
    budget = VmBudget()
    woken_now = await wake_waiting_runs(session, team.id, events, persons, project, now, budget)
    if woken is not None:
        woken.extend(woken_now)
    repo = IngestRepository(session)
    flows = await services.flows.get(repo, team.id)
    records = _Records(team.id, now)
    if not flows or not events:
        await _last_turn(session, held, records, last_write)
        if held is not None and held.counts and not held.decide():
            await repo.write_outcome(team.id, [], [], records.metrics(held.counts), now)
        return []
    candidates = await _match(team, events, flows, persons, services.store, project, records, budget)
    candidates = await _unmasked(candidates, services.store, project, records, budget)
    candidates = await _within_rate_limit(candidates, services.store, services.bucket, records)
    runs = [
        NewRun(
            id=candidate.invocation_id,
            team_id=team.id,
            hog_flow_id=candidate.flow.id,
            state=initial_state(candidate.globals, candidate.flow.default_variables),
            distinct_id=candidate.event.distinct_id,
            person_id=candidate.person.id if candidate.person is not None else None,
            version=candidate.flow.version,
        )
        for candidate in candidates
    ]
    for candidate in candidates:
        records.count(candidate.flow, "triggered")
    metrics.event_trigger_outcomes(records.counts, filtered=sum(records.unnamed.values()))
    await _last_turn(session, held, records, last_write)
    if held is None:
        written = records.metrics(records.own_counts())
    else:
        written = [] if held.decide() else records.metrics(held.group + held.counts)
    # The last write: on PostgreSQL it may commit on its own (app/db/asyncpg_direct.py), so nothing may fail after it.
    await repo.write_outcome(team.id, runs, records.logs, written, now)
    return [run.id for run in runs]


async def _last_turn(
    session: AsyncSession,
    held: HeldCounts | None,
    records: _Records,
    last_write: Callable[[bool], None] | None,
) -> None:
    # The team's previous group has committed its counts (`held.committed()`) by now.
    await after_previous(session)
    if held is not None:
        held.group, held.holding = records.own_counts(), False
    if last_write is not None:
        last_write(began(session))


async def _match(
    team: Team,
    events: Sequence[IncomingEvent],
    flows: FlowIndex,
    persons: dict[str, PersonRow],
    store: TriggerStore,
    project: str,
    records: _Records,
    budget: VmBudget,
) -> list[_Candidate]:
    """Filters the fast path answers run here, on the loop; the rest run off it (`app.ingest.vm_budget`).
    Candidates keep the order of (event, flow), which masking and rate limiting depend on."""
    groups = await _group_indexes(team.id, events, store)
    ordered: list[_Candidate | _Deferred] = []
    deferred: list[_Deferred] = []
    evaluated: Counter[UUID] = Counter()
    pause = LoopYielder()
    for event in events:
        event_flows = flows.for_event(event.event)
        if not event_flows:  # most events name no flow: nothing to build for them
            continue
        person = persons.get(event.distinct_id) if event.process_person else None
        frozen = event_globals(event, project)
        filter_person = {"id": str(person.id), "properties": dict(person.properties or {})} if person else None
        event_groups = {
            kind: {"id": key, "index": groups[kind], "properties": {}}
            for kind, key in event.groups.items()
            if kind in groups
        }
        filter_globals = build_filter_globals(frozen, filter_person, event_groups)
        for flow in event_flows:
            evaluated[flow.id] += 1
            result = evaluate_filters_fast(flow.filters, filter_globals, limits=TRIGGER_FILTER_LIMITS)
            if result is None:
                later = _Deferred(_Candidate(flow, event, frozen, person), filter_globals)
                ordered.append(later)
                deferred.append(later)
            elif result.matched:
                ordered.append(_Candidate(flow, event, frozen, person))
            else:
                _count_unmatched(records, flow, event, result)
        await pause()
    if deferred:
        results = await budget.run(
            lambda: [
                filter_on_vm(item.candidate.flow.filters, item.globals, TRIGGER_FILTER_LIMITS) for item in deferred
            ]
        )
        for item, result in zip(deferred, results, strict=True):
            item.result = result
            if not result.matched:
                _count_unmatched(records, item.candidate.flow, item.candidate.event, result)
    # Events a flow's trigger does not name were not evaluated: they count as `filtered`, as they would be.
    for flow in flows.flows:
        if len(events) > evaluated[flow.id]:
            records.unnamed[flow.source_id] += len(events) - evaluated[flow.id]
    return [
        entry if isinstance(entry, _Candidate) else entry.candidate
        for entry in ordered
        if isinstance(entry, _Candidate) or (entry.result is not None and entry.result.matched)
    ]


@dataclass
class _Deferred:
    """A (event, flow) pair whose filter needs the VM: evaluated off the loop, after the fast ones."""

    candidate: _Candidate
    globals: dict[str, Any]
    result: FilterResult | None = None


def _count_unmatched(records: _Records, flow: EventFlow, event: IncomingEvent, result: FilterResult) -> None:
    if result.error is not None:
        records.count(flow, "filtering_failed")
        records.log(flow, str(uuid.uuid4()), "error", f"Error filtering event {event.uuid}: {result.error}")
    else:
        records.count(flow, "filtered")


async def _group_indexes(team_id: int, events: Sequence[IncomingEvent], store: TriggerStore) -> dict[str, int]:
    group_types = sorted({kind for event in events for kind in event.groups})
    return await store.group_type_indexes(team_id, group_types) if group_types else {}


async def _unmasked(
    candidates: list[_Candidate], store: TriggerStore, project: str, records: _Records, budget: VmBudget
) -> list[_Candidate]:
    """Drop masked candidates; the counters of each (flow, hash) move once per request, by its size."""
    groups: dict[tuple[UUID, str], list[_Candidate]] = defaultdict(list)
    kept: list[_Candidate] = []
    dropped: set[int] = set()
    masked = [candidate for candidate in candidates if candidate.flow.masking is not None]
    inputs = [(candidate.flow.masking or {}, _hash_globals(candidate, project)) for candidate in masked]
    digests: list[object] = []
    for masking, hash_globals in inputs:
        try:
            digests.append(fast_mask_digest(masking, hash_globals))
        except Exception as error:  # a hash that cannot be computed masks the invocation, like a store failure
            digests.append(error)
    slow = [index for index, digest in enumerate(digests) if digest is NEEDS_VM]
    if slow:
        computed = await budget.run(lambda: [_vm_digest(*inputs[index]) for index in slow])
        for index, value in zip(slow, computed, strict=True):
            digests[index] = value
    for candidate, digest in zip(masked, digests, strict=True):
        if isinstance(digest, Exception):
            dropped.add(id(candidate))
        elif isinstance(digest, str):
            groups[(candidate.flow.id, digest)].append(candidate)
    if groups:
        keys = list(groups)
        increments = [
            CounterIncrement(
                masking_store_key(str(flow_id), digest), len(groups[(flow_id, digest)]), _ttl(groups, flow_id, digest)
            )
            for flow_id, digest in keys
        ]
        values = await store.increment_counters(increments)
        for index, key in enumerate(keys):
            members = groups[key]
            threshold = masking_threshold(members[0].flow.masking or {})
            allowed = passes(values[index], len(members), threshold) if values is not None else 0
            dropped.update(id(candidate) for candidate in members[allowed:])
    for candidate in candidates:
        if id(candidate) in dropped:
            records.count(candidate.flow, "masked")
        else:
            kept.append(candidate)
    return kept


def _hash_globals(candidate: _Candidate, project: str) -> dict[str, Any]:
    person = candidate.person
    return {
        "event": candidate.globals,
        "person": masking_person_globals(person, candidate.event.distinct_id, project) if person else None,
    }


def _vm_digest(masking: dict[str, Any], hash_globals: dict[str, Any]) -> str | Exception | None:
    try:
        return mask_digest(masking, hash_globals, limits=bounded(HASH_LIMITS))
    except Exception as error:
        return error


def _ttl(groups: dict[tuple[UUID, str], list[_Candidate]], flow_id: UUID, digest: str) -> int:
    return masking_ttl(groups[(flow_id, digest)][0].flow.masking or {})


async def _within_rate_limit(
    candidates: list[_Candidate], store: TriggerStore, bucket: TokenBucket, records: _Records
) -> list[_Candidate]:
    """One bucket per flow; each invocation takes a token. Without an answer from the store, all pass."""
    per_flow: dict[UUID, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        per_flow[candidate.flow.id].append(candidate)
    if not per_flow:
        return []
    flow_ids = list(per_flow)
    granted = await store.take_tokens(
        [(f"@posthog/hog-rate-limiter/tokens/{flow_id}", len(per_flow[flow_id])) for flow_id in flow_ids], bucket
    )
    if granted is None:
        return candidates
    limited: set[int] = set()
    for flow_id, allowed in zip(flow_ids, granted, strict=True):
        for candidate in per_flow[flow_id][allowed:]:
            limited.add(id(candidate))
            records.count(candidate.flow, "rate_limited", kind="failure")
            person = str(candidate.person.id) if candidate.person is not None else candidate.event.distinct_id
            message = "Workflow invocation dropped due to rate limiting"
            message += f" for [Person:{person}] on [Event:{candidate.event.uuid}]"
            records.log(candidate.flow, str(candidate.invocation_id), "warn", message)
    return [candidate for candidate in candidates if id(candidate) not in limited]
