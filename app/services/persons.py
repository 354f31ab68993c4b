"""The persons API: upsert one person or thousands at once, list and read them."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import HogFlowRunWait, Person
from app.db.repositories.persons import PersonRepository, PersonUpdate
from app.db.repositories.waits import WaitRepository, wake_runs
from app.errors import NotFound, ValidationError
from app.filters import build_filter_globals, evaluate_filters_fast
from app.ingest.vm_budget import LoopYielder, VmBudget, filter_on_vm
from app.ingest.waits import WAIT_FILTER_LIMITS
from app.schemas.persons import PersonsUpsert

_NAME_KEYS = ("email", "Email", "name", "Name", "username", "Username", "UserName")


def person_name(person: Person, distinct_ids: list[str]) -> str:
    """PostHog's display name: the first of email, name, username, else the first distinct id."""
    properties = person.properties or {}
    for key in _NAME_KEYS:
        value = properties.get(key)
        if value not in (None, ""):
            return str(value)
    return distinct_ids[0] if distinct_ids else str(person.id)


def render(person: Person, distinct_ids: list[str]) -> dict[str, Any]:
    return {
        "id": person.id,
        "uuid": person.id,
        "name": person_name(person, distinct_ids),
        "distinct_ids": distinct_ids,
        "properties": person.properties or {},
        "created_at": person.created_at,
        "updated_at": person.updated_at,
    }


def upserts(payload: PersonsUpsert, bulk_max: int) -> tuple[list[PersonUpdate], bool]:
    """The upserts a request asks for, and whether it used the bulk form."""
    if payload.persons is not None:
        if len(payload.persons) > bulk_max:
            raise ValidationError(
                f"Ensure this field has no more than {bulk_max} elements.", attr="persons", code="max_length"
            )
        changes = [
            PersonUpdate(p.distinct_id, dict(p.properties), dict(p.properties_set_once)) for p in payload.persons
        ]
        return changes, True
    if payload.distinct_id is None:
        raise ValidationError("This field is required.", attr="distinct_id", code="required")
    if not payload.distinct_id.strip():
        raise ValidationError("This field may not be blank.", attr="distinct_id", code="blank")
    change = PersonUpdate(payload.distinct_id, dict(payload.properties or {}), dict(payload.properties_set_once or {}))
    return [change], False


async def upsert_persons(
    session: AsyncSession,
    team_id: int,
    payload: PersonsUpsert,
    bulk_max: int,
    woken: list[tuple[UUID, int]] | None = None,
) -> dict[str, Any]:
    """Runs waiting on a property condition of these persons, or exiting on a property conversion goal,
    are made due and appended to `woken` (run id, pickups) for the scheduler: they re-check once this
    commits. Person-only filters are checked here first, so a change that cannot satisfy them wakes
    nothing."""
    changes, bulk = upserts(payload, bulk_max)
    repo = PersonRepository(session)
    people = await repo.upsert_many(team_id, changes)
    by_id = {person.id: person for person in people.values()}
    now = utcnow()
    waits = await WaitRepository(session).person_change_waits(team_id, list(by_id))
    live = [wait for wait in waits if wait.expires_at is None or wait.expires_at > now]
    waiting = await _may_be_satisfied(live, by_id)
    if waiting and woken is not None:
        woken.extend(await wake_runs(session, waiting, now))
    if bulk:
        return {"upserted": len(people)}
    person = people[changes[0].distinct_id]
    return render(person, await repo.distinct_ids(person.id))


async def _may_be_satisfied(waits: Sequence[HogFlowRunWait], persons: dict[UUID, Person]) -> set[UUID]:
    """Runs whose person-change registrations the persons as they are now may satisfy (a row without
    filters: always). Filters run as at capture (`app.ingest.vm_budget`): the fast path on the loop, handing
    it over every few milliseconds, and what needs the VM off it under one budget for the request, so an
    upsert of thousands of persons with many waiting runs does not hold the loop. A check left undecided
    (past the budget, or failed) wakes its run: the pickup decides, as for a row without filters."""
    woken: set[UUID] = set()
    slow: list[tuple[HogFlowRunWait, dict[str, Any]]] = []
    handover = LoopYielder()
    for wait in waits:
        if wait.run_id in woken:
            continue
        if not wait.filters:
            woken.add(wait.run_id)
            continue
        person = persons[wait.person_id]
        globals = build_filter_globals({}, {"id": str(person.id), "properties": dict(person.properties or {})})
        result = evaluate_filters_fast(wait.filters, globals, limits=WAIT_FILTER_LIMITS)
        if result is None:
            slow.append((wait, globals))
        elif result.matched or result.error:
            woken.add(wait.run_id)
        await handover()
    if slow:
        results = await VmBudget().run(
            lambda: [filter_on_vm(wait.filters, globals, WAIT_FILTER_LIMITS) for wait, globals in slow]
        )
        woken.update(wait.run_id for (wait, _), r in zip(slow, results, strict=True) if r.matched or r.error)
    return woken


async def list_persons(
    session: AsyncSession, team_id: int, *, distinct_id: str | None, search: str | None, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    repo = PersonRepository(session)
    count, persons = await repo.list_page(team_id, distinct_id=distinct_id, search=search, limit=limit, offset=offset)
    ids = await repo.distinct_ids_by_person([person.id for person in persons])
    return count, [render(person, ids[person.id]) for person in persons]


async def get_person(session: AsyncSession, team_id: int, raw_id: str) -> dict[str, Any]:
    try:
        person_id = UUID(raw_id)
    except ValueError:
        raise NotFound() from None
    repo = PersonRepository(session)
    person = await repo.get(team_id, person_id)
    if person is None:
        raise NotFound()
    return render(person, await repo.distinct_ids(person.id))
