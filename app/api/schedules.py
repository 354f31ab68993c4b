"""`/hog_flows/{id}/schedules/`: recurring runs of a flow (RRULE in a time zone)."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status

from app.api.deps import DBSession, ReadableFlow, ReadTeam, WritableFlow
from app.api.hog_flows import ERROR_RESPONSES
from app.db.repositories.schedules import ScheduleRepository
from app.schemas.schedules import SCHEDULE_BODY_EXAMPLE, Schedule
from app.services import schedules as service

router = APIRouter(prefix="/hog_flows", tags=["schedules"])

_EXAMPLES = {"weekly": {"value": SCHEDULE_BODY_EXAMPLE}}


@router.get("/{flow_id}/schedules/", response_model=list[Schedule], responses=ERROR_RESPONSES, summary="List schedules")
async def list_schedules(session: DBSession, ctx: ReadTeam, flow: ReadableFlow) -> Any:
    """The flow's schedules, newest first (a bare list)."""
    return await ScheduleRepository(session).list_for_flow(ctx.team.id, flow.id)


@router.post(
    "/{flow_id}/schedules/",
    response_model=Schedule,
    status_code=status.HTTP_201_CREATED,
    responses=ERROR_RESPONSES,
    summary="Create a schedule",
)
async def create_schedule(
    session: DBSession,
    flow: WritableFlow,
    body: Annotated[Any, Body(openapi_examples=_EXAMPLES)] = None,
) -> Any:
    """Run the flow on every occurrence of an RRULE (at most hourly), expanded in `timezone`.

    An active `batch` flow gets a batch job per occurrence; an active `schedule` flow one run with a
    `$workflow_scheduled` event. `next_run_at` is the next occurrence in UTC.
    """
    return await service.create_schedule(session, flow, body)


@router.patch(
    "/{flow_id}/schedules/{schedule_id}/",
    response_model=Schedule,
    responses=ERROR_RESPONSES,
    summary="Update a schedule",
)
async def update_schedule(
    session: DBSession,
    flow: WritableFlow,
    schedule_id: str,
    body: Annotated[Any, Body(openapi_examples=_EXAMPLES)] = None,
) -> Any:
    """Change the fields given; a new rule, start or time zone recomputes `next_run_at`."""
    schedule = await service.get_schedule(session, flow, schedule_id)
    return await service.update_schedule(session, schedule, body)


@router.delete(
    "/{flow_id}/schedules/{schedule_id}/",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERROR_RESPONSES,
    summary="Delete a schedule",
)
async def delete_schedule(session: DBSession, flow: WritableFlow, schedule_id: str) -> Response:
    schedule = await service.get_schedule(session, flow, schedule_id)
    await service.delete_schedule(session, schedule)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
