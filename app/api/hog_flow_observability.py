"""`/hog_flows/{id}/logs/`, `/hog_flows/{id}/metrics/` and `/hog_flows/{id}/metrics/totals/`.

PostHog's `log_entries` and `app_metrics2` endpoints for one flow: query parameters, defaults,
relative dates, label and bucket rules and response shapes as in spec/api.md §7.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from app.api.deps import DBSession, ReadableFlow, ReadTeam
from app.api.pagination import DEFAULT_PAGE_SIZE, PG_BIGINT_MAX, Page
from app.db.repositories.batch_jobs import BatchJobRepository
from app.db.repositories.observability import LogQuery, MetricQuery, ObservabilityRepository
from app.errors import ValidationError
from app.schemas.observability import (
    HogFlowLogEntry,
    HogFlowLogEntryPage,
    HogFlowMetrics,
    HogFlowMetricTotals,
    MetricBreakdown,
    MetricInterval,
)
from app.services.metric_windows import TeamDates, as_utc, bucket_label, bucket_starts

router = APIRouter(prefix="/hog_flows", tags=["hog_flows"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid query parameter (`attr` names it)"},
    401: {"description": "Not authenticated"},
    403: {"description": "Missing scope `hog_flow:read` or no access to the project"},
    404: {"description": "Flow not found in this team"},
}

DEFAULT_LOG_LIMIT = 50
MAX_LOG_LIMIT = 500


async def log_sources(
    session: DBSession,
    flow: ReadableFlow,
    batch_job_id: Annotated[
        str | None, Query(description="Only this batch job's runs (by default the flow's own and every job's).")
    ] = None,
) -> tuple[str, list[str]]:
    """The source ids to read: a batch job's runs log and count under the job id, as in PostHog."""
    job_ids = [str(job_id) for job_id in await BatchJobRepository(session).ids_for_flow(flow.team_id, flow.id)]
    if batch_job_id is None:
        return str(flow.id), job_ids
    if batch_job_id not in job_ids:
        raise ValidationError("Not a batch job of this workflow.", attr="batch_job_id")
    return batch_job_id, []


LogSources = Annotated[tuple[str, list[str]], Depends(log_sources)]


# Parameter parsing


def _split(values: list[str] | str | None) -> list[str]:
    """Comma-separated values (a repeated parameter is read the same way), blanks dropped."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else values
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def _offset(raw: str | None) -> int:
    # DRF's paginator falls back to 0 for an offset it cannot use.
    try:
        value = int(raw) if raw is not None else 0
    except ValueError:
        return 0
    return min(max(value, 0), PG_BIGINT_MAX)


# Parameter declarations shared by metrics and totals

AfterParam = Annotated[
    str | None,
    Query(
        description="Start of the range: relative (`-7d`, `-24h`, `-1w`, `-1m` months, `-30M` minutes, `-1q`, "
        "`-1y`) or an ISO 8601 date/datetime (no offset = team timezone)."
    ),
]
BeforeParam = Annotated[str | None, Query(description="End of the range (inclusive), same formats as `after`.")]
IntervalParam = Annotated[MetricInterval, Query(description="Bucket size of the series.")]
BreakdownParam = Annotated[MetricBreakdown, Query(description="One series (or total) per metric `kind` or `name`.")]
NameParam = Annotated[str | None, Query(description="Comma-separated metric names, e.g. `succeeded,failed`.")]
KindParam = Annotated[str | None, Query(description="Comma-separated metric kinds, e.g. `success,failure`.")]


# Endpoints


@router.get(
    "/{flow_id}/logs/",
    response_model=HogFlowLogEntryPage,
    responses=_ERRORS,
    summary="Log entries of a hog flow",
)
async def hog_flow_logs(
    request: Request,
    session: DBSession,
    ctx: ReadTeam,
    sources: LogSources,
    limit: Annotated[
        int | None,
        Query(ge=1, le=MAX_LOG_LIMIT, description="How many of the newest matching entries to return (default 50)."),
    ] = None,
    offset: Annotated[str | None, Query(description="Index of the first result within those entries.")] = None,
    after: Annotated[datetime | None, Query(description="Only entries strictly after this ISO datetime.")] = None,
    before: Annotated[datetime | None, Query(description="Only entries strictly before this ISO datetime.")] = None,
    level: Annotated[
        list[str] | None,
        Query(description="Comma-separated levels, case-insensitive: `DEBUG,INFO,WARN,ERROR`."),
    ] = None,
    search: Annotated[str | None, Query(description="Case-insensitive substring of the message.")] = None,
    instance_id: Annotated[str | None, Query(description="Only entries of this run.")] = None,
) -> dict[str, Any]:
    """Log lines the flow's runs wrote, newest first.

    The newest `limit` matching entries are selected and then paginated like a DRF list, so
    `count` never exceeds `limit`; page back in time with `before` instead.
    """
    query = LogQuery(
        team_id=ctx.team.id,
        source_id=sources[0],
        also_source_ids=sources[1],
        limit=limit or DEFAULT_LOG_LIMIT,
        after=as_utc(after, "after"),
        before=as_utc(before, "before"),
        levels=_split(level),
        search=search or None,
        instance_id=instance_id or None,
    )
    entries = await ObservabilityRepository(session).list_logs(query)
    page = Page(request=request, limit=limit or DEFAULT_PAGE_SIZE, offset=_offset(offset))
    next_url, previous_url = page.links(len(entries))
    results = [
        HogFlowLogEntry(
            log_source_id=entry.log_source_id,
            instance_id=entry.instance_id,
            timestamp=entry.timestamp.astimezone(UTC),
            level=entry.level.upper(),
            message=entry.message,
        )
        for entry in entries[page.offset : page.offset + page.limit]
    ]
    return {"count": len(entries), "next": next_url, "previous": previous_url, "results": results}


@router.get(
    "/{flow_id}/metrics/",
    response_model=HogFlowMetrics,
    responses=_ERRORS,
    summary="Metrics of a hog flow over time",
)
async def hog_flow_metrics(
    session: DBSession,
    ctx: ReadTeam,
    sources: LogSources,
    after: AfterParam = None,
    before: BeforeParam = None,
    interval: IntervalParam = MetricInterval.DAY,
    breakdown_by: BreakdownParam = MetricBreakdown.KIND,
    name: NameParam = None,
    kind: KindParam = None,
    instance_id: Annotated[str | None, Query(description="Only metrics of this run or action.")] = None,
) -> dict[str, Any]:
    """Counts per bucket for each metric kind (or name) found in the range.

    `after` defaults to `-7d` and `before` to now. Labels run from `after` floored to the start
    of its hour, day or Monday-week up to `before`; missing buckets count 0.
    """
    dates = TeamDates.of(ctx.team)
    after_at = dates.parse(after or "-7d", "after")
    before_at = dates.parse(before or "-0d", "before")
    starts = bucket_starts(after_at, before_at, interval, dates.zone)
    query = MetricQuery(
        team_id=ctx.team.id,
        source_id=sources[0],
        also_source_ids=sources[1],
        breakdown_by="name" if breakdown_by is MetricBreakdown.NAME else "kind",
        after=after_at,
        before=before_at,
        names=_split(name),
        kinds=_split(kind),
        instance_id=instance_id or None,
    )
    counts = await ObservabilityRepository(session).metric_series(query, starts)
    series = [{"name": key, "values": counts[key]} for key in sorted(counts)]
    return {"labels": [bucket_label(start, interval) for start in starts], "series": series}


@router.get(
    "/{flow_id}/metrics/totals/",
    response_model=HogFlowMetricTotals,
    responses=_ERRORS,
    summary="Metric totals of a hog flow",
)
async def hog_flow_metric_totals(
    session: DBSession,
    ctx: ReadTeam,
    sources: LogSources,
    after: AfterParam = None,
    before: BeforeParam = None,
    interval: Annotated[MetricInterval, Query(description="Accepted and ignored.")] = MetricInterval.DAY,
    breakdown_by: BreakdownParam = MetricBreakdown.KIND,
    name: NameParam = None,
    kind: KindParam = None,
    instance_id: Annotated[str | None, Query(description="Accepted and ignored, as in PostHog.")] = None,
) -> dict[str, Any]:
    """All-time sums per metric kind (or name); `after`/`before` narrow the range only when given."""
    del interval, instance_id
    dates = TeamDates.of(ctx.team)
    query = MetricQuery(
        team_id=ctx.team.id,
        source_id=sources[0],
        also_source_ids=sources[1],
        breakdown_by="name" if breakdown_by is MetricBreakdown.NAME else "kind",
        after=dates.parse_given(after, "after"),
        before=dates.parse_given(before, "before"),
        names=_split(name),
        kinds=_split(kind),
    )
    return {"totals": await ObservabilityRepository(session).metric_totals(query)}
