"""The capture pipeline's wait step: wake the runs that this batch's events were waiting for.

1. one indexed query for the unmatched registrations of the batch's persons, for the batch's event
   names or for any change to the person (`app.db.repositories.waits.WaitRepository.candidates`);
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
from app.db.repositories.waits import WaitRepository, wake_runs
from app.engine.waits import correlation_key
from app.filters import build_filter_globals, evaluate_filters
from app.hog import Limits
from app.ingest.events import IncomingEvent, event_globals

# As a trigger filter: on the event loop, so a client's slow filter gets little time and fails.
WAIT_FILTER_LIMITS = Limits(timeout_s=0.1)


async def wake_waiting_runs(
    session: AsyncSession,
    team_id: int,
    events: Sequence[IncomingEvent],
    persons: dict[str, Person],
    project: str,
    now: datetime,
) -> list[tuple[UUID, int]]:
    """Mark what the events matched and make those runs due; returns (run id, pickups) of woken runs."""
    located = [(event, persons[event.distinct_id]) for event in events if event.distinct_id in persons]
    if not located:
        return []
    repo = WaitRepository(session)
    candidates = await repo.candidates(team_id, {person.id for _, person in located}, {e.event for e, _ in located})
    live = [wait for wait in candidates if wait.expires_at is None or wait.expires_at > now]
    if not live:
        return []
    matches: list[tuple[int, dict[str, Any]]] = []
    woken: set[UUID] = set()
    matched: set[tuple[UUID, str]] = set()  # the first matching event per run and kind wins
    for event, person in located:
        waiting = [w for w in live if w.person_id == person.id and w.event_name == event.event]
        if not waiting:
            continue
        frozen = event_globals(event, project)
        person_value = {"id": str(person.id), "properties": dict(person.properties or {})}
        for wait in waiting:
            if (wait.run_id, wait.kind) in matched or not _matches(wait, frozen, person_value):
                continue
            matches.append((wait.id, frozen))
            matched.add((wait.run_id, wait.kind))
            woken.add(wait.run_id)
            live.remove(wait)
    woken.update(person_change_wakes(live, located, project))
    await repo.mark_matched(matches, now)
    return await wake_runs(session, woken, now)


def person_change_wakes(
    waits: Sequence[HogFlowRunWait], located: Sequence[tuple[IncomingEvent, Person]], project: str
) -> set[UUID]:
    """Runs that a change to their person may satisfy: property condition waits and property conversion
    goals (`event_name` None). A row with person-only filters wakes its run only when the changed person
    now matches them; other rows wake it on any change, and its pickup decides."""
    changed = {
        person.id: (event, person) for event, person in located if event.set or event.set_once or event.merge_with
    }
    woken: set[UUID] = set()
    for wait in waits:
        if wait.event_name is not None or wait.person_id not in changed or wait.run_id in woken:
            continue
        event, person = changed[wait.person_id]
        if wait.filters and not may_satisfy(wait, person, event_globals(event, project)):
            continue
        woken.add(wait.run_id)
    return woken


def may_satisfy(wait: HogFlowRunWait, person: Person, event: dict[str, Any] | None = None) -> bool:
    """Whether the person as it is now can satisfy a person-change row (always, without filters)."""
    if not wait.filters:
        return True
    person_value = {"id": str(person.id), "properties": dict(person.properties or {})}
    globals = build_filter_globals(event or {}, person_value)
    return evaluate_filters(wait.filters, globals, limits=WAIT_FILTER_LIMITS).matched


def _matches(wait: HogFlowRunWait, frozen: dict[str, Any], person: dict[str, Any]) -> bool:
    globals = build_filter_globals(frozen, person)
    if wait.filters and not evaluate_filters(wait.filters, globals, limits=WAIT_FILTER_LIMITS).matched:
        return False
    if wait.correlation:
        return correlation_key(wait.correlation, {"event": frozen, "person": person}) == wait.correlation_value
    return True
