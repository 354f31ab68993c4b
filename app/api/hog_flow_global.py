"""`/hog_flows/metrics/global/`: the team's succeeded and failed counts per flow."""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.deps import DBSession, ReadTeam
from app.api.hog_flows import ERROR_RESPONSES
from app.services.global_metrics import global_totals
from app.services.metric_windows import TeamDates

router = APIRouter(prefix="/hog_flows", tags=["hog_flows"])


class WorkflowStatsRow(BaseModel):
    workflow_id: str = Field(description="The workflow these counts are for.")
    succeeded: int = Field(description="Successful invocations in the window.")
    failed: int = Field(description="Failed invocations in the window.")


@router.get(
    "/metrics/global/",
    response_model=list[WorkflowStatsRow],
    responses=ERROR_RESPONSES,
    summary="Succeeded and failed counts of every flow",
)
async def metrics_global(
    session: DBSession,
    ctx: ReadTeam,
    after: Annotated[str, Query(description="Start of the window: relative (`-7d`, `-24h`) or ISO 8601.")] = "-7d",
    before: Annotated[str | None, Query(description="End of the window, same format. Defaults to now.")] = None,
) -> Any:
    """One row per flow with metrics in the window, the most-failing first (a bare list, as PostHog)."""
    dates = TeamDates.of(ctx.team)
    return await global_totals(session, ctx.team.id, dates.parse(after, "after"), dates.parse_given(before, "before"))
