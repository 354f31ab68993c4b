"""`/hog_flows/{id}/logs/`, `/hog_flows/{id}/metrics/` and `/hog_flows/{id}/metrics/totals/`.

PostHog's `log_entries` and `app_metrics2` endpoints for one flow: query parameters, defaults,
relative dates, label and bucket rules and response shapes as in spec/api.md §7.
"""

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.parser import isoparse
from dateutil.relativedelta import relativedelta
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.api.deps import DBSession, ReadTeam
from app.api.errors import ValidationError
from app.api.hog_flows import parse_flow_id
from app.api.pagination import DEFAULT_PAGE_SIZE, Page
from app.db.models import HogFlow, Team
from app.db.repositories.observability import LogQuery, MetricQuery, ObservabilityRepository
from app.schemas.hog_flow import DRFDateTime
from app.services import hog_flows as service

router = APIRouter(prefix="/hog_flows", tags=["hog_flows"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Invalid query parameter (`attr` names it)"},
    401: {"description": "Not authenticated"},
    403: {"description": "Missing scope `hog_flow:read` or no access to the project"},
    404: {"description": "Flow not found in this team"},
}

DEFAULT_LOG_LIMIT = 50
MAX_LOG_LIMIT = 500
# A guard against windows like `after=1970-01-01&interval=hour`: PostHog has none, but a label
# list that long is never what a caller wants and would cost memory per request.
MAX_METRIC_BUCKETS = 50_000


# Response models


class HogFlowLogEntry(BaseModel):
    log_source_id: str = Field(description="The flow id (or the batch job id for batch runs).")
    instance_id: str = Field(description="The run (invocation) id.")
    timestamp: DRFDateTime
    level: str = Field(description="`DEBUG`, `LOG`, `INFO`, `WARN` or `ERROR`.")
    message: str


class HogFlowLogEntryPage(BaseModel):
    count: int = Field(description="Entries in the capped list (never more than `limit`).")
    next: str | None
    previous: str | None
    results: list[HogFlowLogEntry]


class HogFlowMetricSeries(BaseModel):
    name: str = Field(description="A metric kind or name, depending on `breakdown_by`.")
    values: list[int] = Field(description="One count per label.")


class HogFlowMetrics(BaseModel):
    labels: list[str] = Field(description="Bucket starts: `YYYY-MM-DDTHH:MM` for `hour`, else `YYYY-MM-DD`.")
    series: list[HogFlowMetricSeries]


class HogFlowMetricTotals(BaseModel):
    totals: dict[str, int] = Field(description="Sum per metric kind or name, depending on `breakdown_by`.")


class MetricInterval(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


class MetricBreakdown(StrEnum):
    KIND = "kind"
    NAME = "name"


# The flow in the path (404 before any query parameter is looked at, like PostHog's get_object)


async def readable_flow(session: DBSession, ctx: ReadTeam, flow_id: str) -> HogFlow:
    return await service.get_flow(session, ctx.team, parse_flow_id(flow_id))


ReadableFlow = Annotated[HogFlow, Depends(readable_flow)]


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
    return max(value, 0)


def _out_of_range(raw: object, attr: str) -> ValidationError:
    return ValidationError(f"Date '{raw}' is out of range.", attr=attr)


def _as_utc(moment: datetime | None, attr: str) -> datetime | None:
    """DRF reads a datetime without an offset in the server timezone, which is UTC in PostHog."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise _out_of_range(moment.isoformat(), attr) from None


def _within_supported_years(moment: datetime, raw: str, attr: str) -> datetime:
    """Keep clear of datetime's year 1 and 9999 limits, which flooring and stepping buckets would cross."""
    try:
        year = moment.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not 2 <= year <= 9998:
        raise _out_of_range(raw, attr)
    return moment


def team_zone(team: Team) -> ZoneInfo:
    try:
        return ZoneInfo(team.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


_RELATIVE_DATE = re.compile(r"-?(?P<number>\d+)?(?P<kind>[hdwmMqys])(?P<position>Start|End)?")

# PostHog's delta table: `m` is months and `M` minutes, a quarter is 13 weeks.
_DELTA_UNIT = {"h": "hours", "d": "days", "w": "weeks", "m": "months", "M": "minutes", "s": "seconds", "y": "years"}
# `Start` / `End` pin the smaller fields, for the kinds PostHog pins them.
_PINNED: dict[tuple[str, str], dict[str, int]] = {
    ("h", "Start"): {"minute": 0, "second": 0, "microsecond": 0},
    ("h", "End"): {"minute": 59, "second": 59, "microsecond": 999999},
    ("d", "Start"): {"hour": 0, "minute": 0, "second": 0, "microsecond": 0},
    ("d", "End"): {"hour": 23, "minute": 59, "second": 59, "microsecond": 999999},
    ("m", "Start"): {"day": 1},
    ("m", "End"): {"day": 31},
    ("y", "Start"): {"month": 1, "day": 1},
    ("y", "End"): {"day": 31},
}


def _relative_delta(number: int, kind: str, position: str | None) -> relativedelta:
    fields = {"weeks": 13 * number} if kind == "q" else {_DELTA_UNIT[kind]: number}
    fields.update(_PINNED.get((kind, position or ""), {}))
    return relativedelta(**fields)  # type: ignore[arg-type]


def parse_metrics_date(raw: str, zone: ZoneInfo, *, attr: str, now: datetime | None = None) -> datetime:
    """A relative date (`-7d`, `-24h`, `-1w`, `-1m`, `-30M`, `-1q`, `-1y`, …) or an ISO date/datetime.

    Relative dates are now (in the team timezone) minus the delta, not truncated. An ISO value
    without an offset is read in the team timezone. The result is in the team timezone.
    """
    value = raw.strip()
    parsed: datetime | None = None
    try:
        parsed = isoparse(value)
    except (ValueError, OverflowError):
        try:
            parsed = datetime.strptime(value, "%Y-%m-%d")  # PostHog also takes unpadded dates: 2025-1-5
        except ValueError:
            parsed = None
    if parsed is not None:
        try:
            parsed = parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed.astimezone(zone)
        except OverflowError:
            raise _out_of_range(raw, attr) from None
        return _within_supported_years(parsed, raw, attr)
    match = _RELATIVE_DATE.fullmatch(value)
    if match is None:
        raise ValidationError(
            f"Invalid date '{raw}'. Use a relative date such as -7d, -24h, -1w, -1m, -30M, -1q or -1y, "
            "or an ISO 8601 date or datetime.",
            attr=attr,
        )
    current = (now or datetime.now(UTC)).astimezone(zone)
    number = int(match["number"]) if match["number"] else 0
    try:
        moment = current - _relative_delta(number, match["kind"], match["position"])
    except (OverflowError, ValueError):
        raise _out_of_range(raw, attr) from None
    return _within_supported_years(moment, raw, attr)


def _bucket_starts(after: datetime, before: datetime, interval: MetricInterval, zone: ZoneInfo) -> list[datetime]:
    """Starts of the hour/day/Monday-week buckets from `after` (floored) up to and including `before`."""
    start = after.astimezone(zone)
    if interval is MetricInterval.HOUR:
        start = start.replace(minute=0, second=0, microsecond=0)
    else:
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if interval is MetricInterval.WEEK:
            start -= timedelta(days=start.weekday())
    starts: list[datetime] = []
    while start <= before:
        starts.append(start)
        if len(starts) > MAX_METRIC_BUCKETS:
            raise ValidationError(
                f"The range between after and before spans more than {MAX_METRIC_BUCKETS} {interval.value}s. "
                "Use a shorter range or a larger interval.",
                attr="interval",
            )
        if interval is MetricInterval.HOUR:
            # Step in absolute time so DST changes neither repeat nor skip an hour.
            start = (start.astimezone(UTC) + timedelta(hours=1)).astimezone(zone)
        else:
            # Aware arithmetic is wall-clock: the next local midnight, whatever the DST offset.
            start += timedelta(days=1 if interval is MetricInterval.DAY else 7)
    return starts


def _label(start: datetime, interval: MetricInterval) -> str:
    return start.strftime("%Y-%m-%dT%H:%M" if interval is MetricInterval.HOUR else "%Y-%m-%d")


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
    flow: ReadableFlow,
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
        source_id=str(flow.id),
        limit=limit or DEFAULT_LOG_LIMIT,
        after=_as_utc(after, "after"),
        before=_as_utc(before, "before"),
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
    flow: ReadableFlow,
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
    zone = team_zone(ctx.team)
    now = datetime.now(UTC)
    after_at = parse_metrics_date(after or "-7d", zone, attr="after", now=now)
    before_at = parse_metrics_date(before or "-0d", zone, attr="before", now=now)
    starts = _bucket_starts(after_at, before_at, interval, zone)
    query = MetricQuery(
        team_id=ctx.team.id,
        source_id=str(flow.id),
        breakdown_by="name" if breakdown_by is MetricBreakdown.NAME else "kind",
        after=after_at,
        before=before_at,
        names=_split(name),
        kinds=_split(kind),
        instance_id=instance_id or None,
    )
    counts = await ObservabilityRepository(session).metric_series(query, starts)
    series = [{"name": key, "values": counts[key]} for key in sorted(counts)]
    return {"labels": [_label(start, interval) for start in starts], "series": series}


@router.get(
    "/{flow_id}/metrics/totals/",
    response_model=HogFlowMetricTotals,
    responses=_ERRORS,
    summary="Metric totals of a hog flow",
)
async def hog_flow_metric_totals(
    session: DBSession,
    ctx: ReadTeam,
    flow: ReadableFlow,
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
    zone = team_zone(ctx.team)
    now = datetime.now(UTC)
    query = MetricQuery(
        team_id=ctx.team.id,
        source_id=str(flow.id),
        breakdown_by="name" if breakdown_by is MetricBreakdown.NAME else "kind",
        after=parse_metrics_date(after, zone, attr="after", now=now) if after else None,
        before=parse_metrics_date(before, zone, attr="before", now=now) if before else None,
        names=_split(name),
        kinds=_split(kind),
    )
    return {"totals": await ObservabilityRepository(session).metric_totals(query)}
