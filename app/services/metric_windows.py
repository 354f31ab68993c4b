"""Time windows of the logs and metrics endpoints: PostHog's relative dates, buckets and labels."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.parser import isoparse
from dateutil.relativedelta import relativedelta

from app.db.models import Team
from app.errors import ValidationError
from app.schemas.observability import MetricInterval

# A guard against windows like `after=1970-01-01&interval=hour`: PostHog has none, but a label
# list that long is never what a caller wants and would cost memory per request.
MAX_METRIC_BUCKETS = 50_000


def _out_of_range(raw: object, attr: str) -> ValidationError:
    return ValidationError(f"Date '{raw}' is out of range.", attr=attr)


def as_utc(moment: datetime | None, attr: str) -> datetime | None:
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


@dataclass(frozen=True)
class TeamDates:
    """A request's date parameters, read in the team's timezone against one `now`."""

    zone: ZoneInfo
    now: datetime

    @classmethod
    def of(cls, team: Team) -> "TeamDates":
        return cls(team_zone(team), datetime.now(UTC))

    def parse(self, raw: str, attr: str) -> datetime:
        return parse_metrics_date(raw, self.zone, attr=attr, now=self.now)

    def parse_given(self, raw: str | None, attr: str) -> datetime | None:
        """`None` for a parameter left out (or empty)."""
        return self.parse(raw, attr) if raw else None


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


def bucket_starts(after: datetime, before: datetime, interval: MetricInterval, zone: ZoneInfo) -> list[datetime]:
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


def bucket_label(start: datetime, interval: MetricInterval) -> str:
    return start.strftime("%Y-%m-%dT%H:%M" if interval is MetricInterval.HOUR else "%Y-%m-%d")
