"""The capture pipeline's wait step: wake the runs that this batch's events were waiting for.

1. one indexed query for the unmatched registrations of the batch's persons, for the batch's event
   names or for any change to the person (`app.db.repositories.waits.WaitRepository.candidates`),
   skipped when the person lookup found none of them with any (`PersonRow.waiting`);
2. an event matches a registration of its person and name when it passes the entry's compiled filters
   and, for a correlated wait (our extension), yields the same correlation value as the trigger did;
   the first matching event wins, and the row keeps it as `matched_event` for the run's next step;
3. a `$set`/`$set_once`/merge of a person wakes its runs that wait on a property condition or exit on
   a property conversion goal (the run re-checks at its pickup; nothing is marked); when the row holds
   person-only filters, only a change that makes them match wakes the run;
4. the woken runs are made due now, in the caller's transaction; the caller hands them to the
   scheduler once it has committed.

Registrations past their deadline are skipped: the run takes its timeout edge.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import HogFlowRunWait, Person
from app.db.repositories.persons import PersonRow
from app.db.repositories.waits import WaitRepository, wake_runs
from app.engine.waits import CORRELATION_LIMITS, correlation_key
from app.filters import build_filter_globals, evaluate_filters_fast
from app.hog import HogTimeoutError, Limits
from app.hog.budget import bounded
from app.ingest.events import IncomingEvent, event_globals
from app.ingest.vm_budget import VmBudget, filter_on_vm

# As a trigger filter: at most this long each, within the request's VM budget (`app.ingest.vm_budget`).
WAIT_FILTER_LIMITS = Limits(timeout_s=0.1)


async def wake_waiting_runs(
    session: AsyncSession,
    team_id: int,
    events: Sequence[IncomingEvent],
    persons: dict[str, PersonRow],
    project: str,
    now: datetime,
    budget: VmBudget | None = None,
) -> list[tuple[UUID, int]]:
    """Mark what the events matched and make those runs due; returns (run id, pickups) of woken runs."""
    located = [(event, persons[event.distinct_id]) for event in events if event.distinct_id in persons]
    if not any(person.waiting for _, person in located):
        return []
    repo = WaitRepository(session)
    candidates = await repo.candidates(team_id, {person.id for _, person in located}, {e.event for e, _ in located})
    live = [wait for wait in candidates if wait.expires_at is None or wait.expires_at > now]
    if not live:
        return []
    pairs: list[tuple[IncomingEvent, list[HogFlowRunWait], dict[str, Any], dict[str, Any]]] = []
    for event, person in located:
        waiting = [w for w in live if w.person_id == person.id and w.event_name == event.event]
        if waiting:
            person_value = {"id": str(person.id), "properties": dict(person.properties or {})}
            pairs.append((event, waiting, event_globals(event, project), person_value))
    budget = budget or VmBudget()
    verdicts = await _verdicts(pairs, budget)
    matches: list[tuple[int, dict[str, Any]]] = []
    woken: set[UUID] = set()
    matched: set[tuple[UUID, str]] = set()  # the first matching event per run and kind wins
    for event, waiting, frozen, _ in pairs:
        for wait in waiting:
            if (wait.run_id, wait.kind) in matched or not verdicts[(id(event), wait.id)]:
                continue
            matches.append((wait.id, frozen))
            matched.add((wait.run_id, wait.kind))
            woken.add(wait.run_id)
            live.remove(wait)
    woken.update(await person_change_wakes(live, located, project, budget))
    await repo.mark_matched(matches, now)
    return await wake_runs(session, woken, now)


async def person_change_wakes(
    waits: Sequence[HogFlowRunWait],
    located: Sequence[tuple[IncomingEvent, PersonRow]],
    project: str,
    budget: VmBudget,
) -> set[UUID]:
    """Runs that a change to their person may satisfy: property condition waits and property conversion
    goals (`event_name` None). A row with person-only filters wakes its run only when the changed person
    now matches them; other rows wake it on any change, and its pickup decides."""
    changed = {
        person.id: (event, person) for event, person in located if event.set or event.set_once or event.merge_with
    }
    woken: set[UUID] = set()
    slow: list[tuple[HogFlowRunWait, dict[str, Any]]] = []
    for wait in waits:
        if wait.event_name is not None or wait.person_id not in changed or wait.run_id in woken:
            continue
        event, person = changed[wait.person_id]
        if wait.filters:
            globals = _person_filter_globals(person, event_globals(event, project))
            result = evaluate_filters_fast(wait.filters, globals, limits=WAIT_FILTER_LIMITS)
            if result is None:  # the VM decides, off the loop
                slow.append((wait, globals))
                continue
            if not result.matched:
                continue
        woken.add(wait.run_id)
    if slow:
        results = await budget.run(lambda: [filter_on_vm(w.filters, g, WAIT_FILTER_LIMITS).matched for w, g in slow])
        woken.update(wait.run_id for (wait, _), matched in zip(slow, results, strict=True) if matched)
    return woken


def _person_filter_globals(person: Person | PersonRow, event: dict[str, Any]) -> dict[str, Any]:
    return build_filter_globals(event, {"id": str(person.id), "properties": dict(person.properties or {})})


async def _verdicts(
    pairs: list[tuple[IncomingEvent, list[HogFlowRunWait], dict[str, Any], dict[str, Any]]], budget: VmBudget
) -> dict[tuple[int, int], bool]:
    """Whether each (event, registration) matches: fast-path filters here, the rest (VM, correlations) off the loop."""
    verdicts: dict[tuple[int, int], bool] = {}
    slow: list[tuple[tuple[int, int], HogFlowRunWait, dict[str, Any], dict[str, Any]]] = []
    for event, waiting, frozen, person in pairs:
        globals = build_filter_globals(frozen, person)
        for wait in waiting:
            key = (id(event), wait.id)
            result = evaluate_filters_fast(wait.filters, globals, limits=WAIT_FILTER_LIMITS) if wait.filters else None
            if wait.filters and result is not None and not result.matched:
                verdicts[key] = False
            elif wait.correlation or (wait.filters and result is None):
                slow.append((key, wait, frozen, person))
            else:
                verdicts[key] = True
    if slow:
        results = await budget.run(lambda: [_matches(wait, frozen, person) for _, wait, frozen, person in slow])
        verdicts.update((key, result) for (key, *_), result in zip(slow, results, strict=True))
    return verdicts


def _matches(wait: HogFlowRunWait, frozen: dict[str, Any], person: dict[str, Any]) -> bool:
    globals = build_filter_globals(frozen, person)
    if wait.filters and not filter_on_vm(wait.filters, globals, WAIT_FILTER_LIMITS).matched:
        return False
    if wait.correlation:
        try:
            limits = bounded(CORRELATION_LIMITS)
        except HogTimeoutError:
            return False
        return correlation_key(wait.correlation, {"event": frozen, "person": person}, limits) == wait.correlation_value
    return True
