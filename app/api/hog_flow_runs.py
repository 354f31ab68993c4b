"""`/hog_flows/{id}/runs/`: start a real run for a person, list runs, read one with its trace."""

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, status

from app.api.deps import DBSession, ReadableFlow, ReadTeam, WritableFlow, parse_flow_id
from app.api.hog_flows import ERROR_RESPONSES
from app.api.pagination import Pagination
from app.db.base import utcnow
from app.db.repositories.runs import RunRepository
from app.schemas.runs import Run, RunCreate, RunDetail, RunPage
from app.services import runs as service

router = APIRouter(prefix="/hog_flows", tags=["runs"])


@router.post(
    "/{flow_id}/runs/",
    response_model=Run,
    status_code=status.HTTP_201_CREATED,
    responses=ERROR_RESPONSES,
    summary="Start a run",
)
async def start_run(
    request: Request,
    background: BackgroundTasks,
    session: DBSession,
    flow: WritableFlow,
    payload: RunCreate,
) -> Any:
    """Start a real run of an active flow for a distinct id or person (a manual trigger)."""
    run = await service.start_manual_run(
        session,
        flow,
        distinct_id=payload.distinct_id,
        person_id=payload.person_id,
        event=payload.event,
        variables=payload.variables,
    )
    # Queued after the response, i.e. after the transaction that created the run has committed.
    background.add_task(request.app.state.scheduler.schedule, run.id, run.pickups, utcnow())
    return run


@router.get("/{flow_id}/runs/", response_model=RunPage, responses=ERROR_RESPONSES, summary="List runs")
async def list_runs(
    session: DBSession, ctx: ReadTeam, page: Pagination, flow: ReadableFlow, status: str | None = None
) -> dict[str, Any]:
    """Runs of a flow, newest first; `status` filters."""
    count, runs = await RunRepository(session).list_for_flow(
        ctx.team.id, flow.id, status=status, limit=page.limit, offset=page.offset
    )
    next_url, previous_url = page.links(count)
    return {"count": count, "next": next_url, "previous": previous_url, "results": runs}


@router.get("/{flow_id}/runs/{run_id}/", response_model=RunDetail, responses=ERROR_RESPONSES, summary="Get a run")
async def get_run(session: DBSession, flow: ReadableFlow, run_id: str) -> Any:
    """One run with its variables and the ordered trace of the steps it took."""
    run, steps = await service.get_run(session, flow, parse_flow_id(run_id))
    return {**Run.model_validate(run).model_dump(), "variables": run.state.get("variables") or {}, "steps": steps}
