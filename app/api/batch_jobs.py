"""`/hog_flows/{id}/batch_jobs/`: run an active batch flow for its whole audience, list those runs."""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Request

from app.api.deps import AppSettings, DBSession, ReadTeam, WriteTeam
from app.api.hog_flows import ERROR_RESPONSES
from app.batch.queue import batch_queue_for, lease_token
from app.schemas.batch_jobs import BATCH_JOB_BODY_EXAMPLE, BatchJob, BatchJobCancelled
from app.services import batch_jobs as service
from app.services.audiences import confirm_policy

router = APIRouter(prefix="/hog_flows", tags=["batch jobs"])


@router.get(
    "/{flow_id}/batch_jobs/", response_model=list[BatchJob], responses=ERROR_RESPONSES, summary="List batch jobs"
)
async def list_batch_jobs(session: DBSession, ctx: ReadTeam, flow_id: str) -> Any:
    """The flow's batch jobs, newest first (a bare list, not paginated), with their progress."""
    flow = await service.flow_for_batch_jobs(session, ctx.team, flow_id)
    return await service.list_batch_jobs(session, flow)


@router.post(
    "/{flow_id}/batch_jobs/",
    response_model=BatchJob,
    responses={
        **ERROR_RESPONSES,
        400: {"description": "Raw DRF errors `{field: [message]}`, or the flow is not active"},
    },
    summary="Start a batch job",
)
async def create_batch_job(
    request: Request,
    background: BackgroundTasks,
    session: DBSession,
    ctx: WriteTeam,
    settings: AppSettings,
    flow_id: str,
    body: Annotated[Any, Body(openapi_examples={"variables": {"value": BATCH_JOB_BODY_EXAMPLE}})] = None,
) -> Any:
    """Run an active `batch` flow once per person of its audience (answers 200, as PostHog does).

    The audience is the trigger's `filters.properties`; `filters` here may override `properties`
    and `filter_test_accounts`. Every run starts with `variables` over the flow's defaults (the job
    echoes that merge). An audience above `HOGFLOWS_BATCH_CONFIRM_THRESHOLD` persons needs the
    `confirm_token` that `user_blast_radius` gave for the same filters.
    """
    flow = await service.flow_for_batch_jobs(session, ctx.team, flow_id)
    job = await service.create_batch_job(session, flow, ctx.team, ctx.user, body, confirm_policy(settings))
    # Queued after the response, i.e. after the transaction that created the job has committed.
    queue = batch_queue_for(request.app.state.scheduler)
    background.add_task(queue.enqueue, job.id, lease_token(None))
    return service.render(job, ctx.user)


@router.post(
    "/{flow_id}/batch_jobs/{job_id}/cancel/",
    response_model=BatchJobCancelled,
    responses=ERROR_RESPONSES,
    summary="Cancel a batch job",
)
async def cancel_batch_job(
    session: DBSession,
    ctx: WriteTeam,
    flow_id: str,
    job_id: str,
    body: Annotated[Any, Body(description="Ignored: the request has no fields.")] = None,
) -> Any:
    """Stop the job's fan-out and cancel its runs that have not finished. Messages already sent stay sent."""
    flow = await service.flow_for_batch_jobs(session, ctx.team, flow_id)
    return await service.cancel_batch_job(session, flow, job_id)
