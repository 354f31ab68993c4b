"""`/persons/`: upsert persons (one or in bulk), list and read them."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request

from app.api.deps import AuthorizedTeam, DBSession, team_with_scope
from app.api.hog_flows import ERROR_RESPONSES
from app.api.pagination import Pagination
from app.db.base import utcnow
from app.schemas.persons import Person, PersonPage, PersonsUpsert, PersonsUpserted
from app.services import persons as service
from app.worker.scheduling import schedule_woken_runs

router = APIRouter(prefix="/persons", tags=["persons"])

ReadPersons = Annotated[AuthorizedTeam, Depends(team_with_scope("person:read"))]
WritePersons = Annotated[AuthorizedTeam, Depends(team_with_scope("person:write"))]


@router.post("/", response_model=Person | PersonsUpserted, responses=ERROR_RESPONSES, summary="Upsert persons")
async def upsert_persons(
    request: Request, background: BackgroundTasks, session: DBSession, ctx: WritePersons, payload: PersonsUpsert
) -> Any:
    """Create or update persons by distinct id: `properties` are set, `properties_set_once` only fill gaps.

    One person: `{distinct_id, properties, properties_set_once?}` answers the person. Many:
    `{"persons": [...]}` (tens of thousands per request) answers `{"upserted": n}`. Runs waiting on a
    property condition of these persons re-check it at once.
    """
    woken: list[tuple[UUID, int]] = []
    settings = request.app.state.settings
    result = await service.upsert_persons(session, ctx.team.id, payload, settings.persons_bulk_max, woken)
    if woken:
        background.add_task(schedule_woken_runs, request.app.state.scheduler, woken, utcnow())
    return result


@router.get("/", response_model=PersonPage, responses=ERROR_RESPONSES, summary="List persons")
async def list_persons(
    session: DBSession,
    ctx: ReadPersons,
    page: Pagination,
    distinct_id: Annotated[str | None, Query(description="Only the person with this distinct id.")] = None,
    search: Annotated[str | None, Query(description="Part of a distinct id, email or name.")] = None,
) -> dict[str, Any]:
    """Persons of the team, newest first."""
    count, results = await service.list_persons(
        session, ctx.team.id, distinct_id=distinct_id, search=search, limit=page.limit, offset=page.offset
    )
    next_url, previous_url = page.links(count)
    return {"count": count, "next": next_url, "previous": previous_url, "results": results}


@router.get("/{person_id}/", response_model=Person, responses=ERROR_RESPONSES, summary="Retrieve a person")
async def get_person(session: DBSession, ctx: ReadPersons, person_id: str) -> Any:
    return await service.get_person(session, ctx.team.id, person_id)
