"""Person processing for a batch of events: `$set`, `$set_once`, `$identify` and `$create_alias`.

Events are applied in the order they were sent. Plain updates are grouped into one bulk upsert;
a merge (`$identify`, `$create_alias`) first flushes what came before it, so a `$set` sent before
an identify lands on the anonymous person and is carried over by the merge.
"""

from collections.abc import Sequence

from app.db.repositories.persons import PersonRepository, PersonRow, PersonUpdate
from app.ingest.events import IncomingEvent


async def apply_person_updates(
    repo: PersonRepository, team_id: int, events: Sequence[IncomingEvent]
) -> dict[str, PersonRow]:
    """Create or update the persons behind the events; returns the person of every distinct id seen.

    Personless events (`$process_person_profile: false`) neither create nor change a person.
    Persons reflect the whole batch: a filter on the first event sees properties a later event set.
    """
    persons: dict[str, PersonRow] = {}
    pending: list[PersonUpdate] = []
    merged = False
    for event in events:
        if not event.process_person:
            continue
        if event.merge_with is not None and event.merge_with != event.distinct_id:
            if pending:
                persons.update(await repo.upsert_rows(team_id, pending))
                pending = []
            await repo.alias(team_id, event.distinct_id, event.merge_with)
            merged = True
        pending.append(PersonUpdate(event.distinct_id, dict(event.set), dict(event.set_once)))
    if pending:
        persons.update(await repo.upsert_rows(team_id, pending))
    if merged:
        # A merge deletes the anonymous person: look every id up again so each points at the survivor.
        persons = await repo.upsert_rows(team_id, [PersonUpdate(distinct_id) for distinct_id in persons])
    return persons
