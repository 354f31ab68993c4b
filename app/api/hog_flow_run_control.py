"""Cancel, rerun and results of a flow's runs, and "run now" with an `Idempotency-Key` (PostHog's shapes).

The rules live in `app.services.run_control`.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from app.api.deps import AuthorizedTeam, DBSession, ReadableFlow, ReadTeam, WritableFlow
from app.api.hog_flows import ERROR_RESPONSES
from app.db.base import utcnow
from app.errors import ValidationError
from app.schemas.run_control import (
    CancelRequest,
    CancelResponse,
    InvocationResult,
    InvocationResultDetail,
    RerunRequest,
    RerunResponse,
    ResultsCount,
    RunNowRequest,
    RunNowResponse,
)
from app.services import run_control as service
from app.services.metric_windows import TeamDates

router = APIRouter(prefix="/hog_flows", tags=["runs"])


@router.post(
    "/{flow_id}/invocations/cancel/",
    response_model=CancelResponse,
    response_model_exclude_none=True,
    responses=ERROR_RESPONSES,
    summary="Cancel runs",
)
async def cancel_invocations(session: DBSession, flow: WritableFlow, payload: CancelRequest) -> Any:
    """Cancel in-flight runs: parked ones end at once, running ones at their next step boundary."""
    result = await service.cancel_runs(session, flow, payload.model_dump(exclude_unset=True))
    return result.body()


@router.post("/{flow_id}/rerun/", response_model=RerunResponse, responses=ERROR_RESPONSES, summary="Rerun runs")
async def rerun_invocations(
    request: Request, background: BackgroundTasks, session: DBSession, flow: WritableFlow, payload: RerunRequest
) -> Any:
    """Restart finished runs (failed ones at the step that failed) in the worker pool."""
    raw = payload.filter
    ids = None
    if raw.invocation_ids is not None:
        try:
            ids = tuple(UUID(item) for item in raw.invocation_ids)
        except ValueError:
            raise ValidationError("Must be a valid UUID.", attr="filter__invocation_ids") from None
    selection = service.RerunFilter(
        window_start=_aware(raw.window_start),
        window_end=_aware(raw.window_end),
        status=tuple(raw.status) if raw.status else ("failed",),
        error_kind=tuple(raw.error_kind or ()),
        error_message_contains=raw.error_message_contains,
        max_attempts=raw.max_attempts,
        max_count=raw.max_count or service.MAX_COUNT,
        invocation_ids=ids,
    )
    result = await service.rerun_runs(session, flow, selection)
    scheduler, now = request.app.state.scheduler, utcnow()

    async def enqueue() -> None:
        for run_id in result.queued:
            await scheduler.schedule(run_id, 0, now, retry_key=f"rerun-{result.rerun_job_id}")

    # After the response, i.e. after the transaction that requeued the runs has committed.
    background.add_task(enqueue)
    return result.body()


StatusParam = Annotated[
    str | None,
    Query(
        min_length=1,
        description="Comma-separated invocation statuses to include: succeeded, failed, canceled, running.",
    ),
]
DistinctIdParam = Annotated[
    str | None, Query(min_length=1, description="Only return invocations triggered for this distinct_id.")
]
ErrorParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=200,
        description="Only return invocations whose error_message contains this substring (case-insensitive).",
    ),
]
AfterParam = Annotated[
    str,
    Query(min_length=1, description="Start of the range on scheduled time: relative ('-7d', '-24h') or ISO 8601."),
]
BeforeParam = Annotated[
    str | None, Query(min_length=1, description="End of the range on scheduled time. Defaults to now.")
]


@dataclass(frozen=True)
class _ResultsFilter:
    """The filters `invocation_results/` and its count share. Dates are read when the route asks (after
    FastAPI has checked every parameter), in the team's time zone."""

    ctx: AuthorizedTeam
    status: str | None
    distinct_id: str | None
    error_message_contains: str | None
    after: str
    before: str | None

    def query(self) -> service.ResultsQuery:
        dates = TeamDates.of(self.ctx.team)
        return service.ResultsQuery(
            status=self.status,
            distinct_id=self.distinct_id,
            error_message_contains=self.error_message_contains,
            after=dates.parse(self.after, "after"),
            before=dates.parse_given(self.before, "before"),
        )


def _results_filter(
    ctx: ReadTeam,
    status: StatusParam = None,
    distinct_id: DistinctIdParam = None,
    error_message_contains: ErrorParam = None,
    after: AfterParam = "-7d",
    before: BeforeParam = None,
) -> _ResultsFilter:
    return _ResultsFilter(ctx, status, distinct_id, error_message_contains, after, before)


def _results_limit(
    limit: Annotated[int, Query(ge=1, le=500, description="Maximum number of invocations (1-500).")] = 50,
) -> int:
    return limit


# Dependencies in the order the routes name them: their parameters keep their places in the schema and errors.
ResultsFilter = Annotated[_ResultsFilter, Depends(_results_filter)]
ResultsLimit = Annotated[int, Depends(_results_limit)]


@router.get(
    "/{flow_id}/invocation_results/",
    response_model=list[InvocationResult],
    responses=ERROR_RESPONSES,
    summary="List run results",
)
async def list_invocation_results(
    session: DBSession, filters: ResultsFilter, flow: ReadableFlow, limit: ResultsLimit
) -> Any:
    """The flow's runs, newest first, each in PostHog's invocation-result shape (a bare list, no pagination)."""
    return await service.invocation_results(session, flow, filters.query(), limit)


@router.get(
    "/{flow_id}/invocation_results_count/",
    response_model=ResultsCount,
    responses=ERROR_RESPONSES,
    summary="Count run results",
)
async def count_invocation_results(session: DBSession, filters: ResultsFilter, flow: ReadableFlow) -> Any:
    """How many runs the same filters as `invocation_results/` select, without its row cap."""
    return {"count": await service.invocation_results_count(session, flow, filters.query())}


@router.get(
    "/{flow_id}/invocation_results/{invocation_id}/",
    response_model=InvocationResultDetail,
    responses=ERROR_RESPONSES,
    summary="Get a run result",
)
async def get_invocation_result(session: DBSession, flow: ReadableFlow, invocation_id: str) -> Any:
    return await service.invocation_result(session, flow, invocation_id)


@router.post(
    "/{flow_id}/run/",
    response_model=RunNowResponse,
    responses={**ERROR_RESPONSES, 200: {"headers": {"Idempotent-Replayed": {"schema": {"type": "string"}}}}},
    summary="Run now",
)
async def run_now(
    request: Request,
    background: BackgroundTasks,
    session: DBSession,
    flow: WritableFlow,
    payload: RunNowRequest | None = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    """Start a run of an active schedule- or manual-triggered flow; the same `Idempotency-Key` starts one run,
    and a repeat answers the first run's body (with `Idempotent-Replayed: true`)."""
    variables = payload.variables if payload is not None else None
    run, created = await service.run_now(session, flow, variables, idempotency_key)
    if created:
        background.add_task(request.app.state.scheduler.schedule, run.id, run.pickups, utcnow())
    headers = {} if created else {"Idempotent-Replayed": "true"}
    body = RunNowResponse(invocation_id=str(run.id)).model_dump(mode="json")
    return JSONResponse(body, headers=headers)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
