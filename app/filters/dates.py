"""Resolution of relative date values (`-7d`, `-10m`, `-2h`, ...) at compile time."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta

from app.filters.errors import FiltersCompileError

# Same shape PostHog accepts: optional minus, optional count, a unit letter, optional Start/End.
_IS_RELATIVE = re.compile(r"^-?[0-9]+[hdwmqysHDWMQY]")
_RELATIVE = re.compile(r"-?(?P<number>[0-9]+)?(?P<unit>[hdwmqysHDWMQY])(?P<position>Start|End)?")

_OUTPUT_FORMAT = "%Y-%m-%d %H:%M:%S"


def team_timezone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FiltersCompileError(f"Unknown timezone: {name}") from exc


def _delta_for(unit: str, number: int | None, position: str | None) -> relativedelta:
    """Map a unit letter to a delta. `m` is months, `M` minutes (as in PostHog)."""
    n = number or 0
    start, end = position == "Start", position == "End"
    if unit == "h":
        if start:
            return relativedelta(hours=n, minute=0, second=0, microsecond=0)
        if end:
            return relativedelta(hours=n, minute=59, second=59, microsecond=999999)
        return relativedelta(hours=n)
    if unit == "d":
        if start:
            return relativedelta(days=n, hour=0, minute=0, second=0, microsecond=0)
        if end:
            return relativedelta(days=n, hour=23, minute=59, second=59, microsecond=999999)
        return relativedelta(days=n)
    if unit == "w":
        return relativedelta(weeks=n)
    if unit == "m":
        if start:
            return relativedelta(months=n, day=1)
        if end:
            return relativedelta(months=n, day=31)
        return relativedelta(months=n)
    if unit == "M":
        return relativedelta(minutes=n)
    if unit == "s":
        return relativedelta(seconds=n)
    if unit == "q":
        return relativedelta(weeks=13 * n)
    if unit == "y":
        if start:
            return relativedelta(years=n, month=1, day=1)
        if end:
            return relativedelta(years=n, day=31)
        return relativedelta(years=n)
    # Upper-case variants other than `M` carry no delta (PostHog ignores them too).
    return relativedelta()


def is_relative_date(value: object) -> bool:
    return isinstance(value, str) and _IS_RELATIVE.match(value) is not None


def resolve_date_value(value: object, timezone: str = "UTC", now: datetime | None = None) -> object:
    """Resolve a relative date to an absolute UTC time string; absolute values pass through.

    The relative date is computed in the team's timezone (so `Start`/`End` positions
    land on the team's day boundaries), then rendered as a naive UTC wall-clock
    string `YYYY-MM-DD HH:MM:SS`, which the VM's `toDateTime` reads as UTC.
    """
    if not is_relative_date(value):
        return value
    assert isinstance(value, str)
    match = _RELATIVE.search(value)
    if match is None:  # pragma: no cover - guarded by is_relative_date
        return value
    tz = team_timezone(timezone)
    reference = now if now is not None else datetime.now(UTC)
    if reference.tzinfo is None:
        reference = reference.replace(tzinfo=UTC)
    local = reference.astimezone(tz)
    number = int(match.group("number")) if match.group("number") else None
    resolved = local - _delta_for(match.group("unit"), number, match.group("position"))
    return resolved.astimezone(UTC).strftime(_OUTPUT_FORMAT)
