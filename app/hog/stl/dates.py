"""STL: dates and datetimes. Every function honours IANA time zones through zoneinfo.

A ``DateTime`` is an instant (epoch seconds) plus a zone label; calendar arithmetic (start of
day, adding months, formatting) happens in that zone's wall-clock time.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import math
import time
from typing import Any

from app.hog.errors import HogVMError
from app.hog.stl.date_format import format_datetime
from app.hog.stl.registry import StlContext, arg, stl
from app.hog.timeutil import (
    EPOCH_DATE,
    UTC,
    date_from_python,
    date_to_python,
    get_zone,
    new_datetime,
    to_python_datetime,
)
from app.hog.values import hog_typeof, is_date, is_datetime, is_number


def _parse_text(text: str, zone: str) -> _dt.datetime:
    cleaned = text.strip()
    try:
        parsed = _dt.datetime.fromisoformat(cleaned)
    except ValueError:
        raise HogVMError(f"Can not parse date/time: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=get_zone(zone))
    return parsed


def to_moment(value: Any, zone: str | None = None, fn: str = "date function") -> _dt.datetime:
    """Any date-ish Hog value as an aware Python datetime, in ``zone`` (default: its own)."""
    if is_datetime(value):
        own_zone = str(value.get("zone") or "UTC")
        return to_python_datetime(float(value["dt"]), zone or own_zone)
    target = get_zone(zone or "UTC")
    if is_date(value):
        day = date_to_python(value)
        return _dt.datetime(day.year, day.month, day.day, tzinfo=target)
    if type(value) is str:
        return _parse_text(value, zone or "UTC").astimezone(target)
    if is_number(value):
        return to_python_datetime(float(value), zone or "UTC")
    raise HogVMError(f"Function {fn} expects a date or datetime, got {hog_typeof(value)}")


def _zone_of(value: Any, explicit: Any = None) -> str:
    if type(explicit) is str:
        return explicit
    if is_datetime(value):
        return str(value.get("zone") or "UTC")
    return "UTC"


def _as_datetime(moment: _dt.datetime, zone: str) -> dict[str, Any]:
    return new_datetime(moment.timestamp(), zone)


def _wall(moment: _dt.datetime, zone: str, **fields: int) -> dict[str, Any]:
    """A wall-clock time in ``zone`` (DST gaps/folds resolved the zoneinfo way) as a DateTime."""
    naive = moment.replace(tzinfo=None, **fields)
    return _as_datetime(naive.replace(tzinfo=get_zone(zone)), zone)


# --- construction ---------------------------------------------------------------------------------


@stl("now", 0, 1)
def _now(ctx: StlContext, args: list[Any]) -> dict[str, Any]:
    zone = arg(args, 0, "UTC")
    get_zone(zone)
    return new_datetime(time.time(), zone)


@stl("today", 0, 0)
def _today(ctx: StlContext, args: list[Any]) -> dict[str, Any]:
    return date_from_python(_dt.datetime.now(UTC).date())


def _unparsable(value: Any) -> bool:
    """PostHog's TypeScript VM turns unparsable text into an invalid date that compares false with
    everything; null does the same here and stays JSON-serialisable (a filter on a missing
    property must not match, not fail)."""
    if type(value) is not str:
        return False
    try:
        _parse_text(value, "UTC")
    except HogVMError:
        return True
    return False


@stl("toDate", 1, 1)
def _to_date(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
    value = args[0]
    if value is None or _unparsable(value):
        return None
    if is_date(value):
        return value
    return date_from_python(to_moment(value, fn="toDate").date())


@stl("toDateTime", 1, 2)
def _to_date_time(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
    value = args[0]
    if value is None or _unparsable(value):
        return None
    zone = _zone_of(value, arg(args, 1))
    return _as_datetime(to_moment(value, zone, "toDateTime"), zone)


@stl("toTimeZone", 2, 2)
def _to_time_zone(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
    if args[0] is None:
        return None
    zone = str(args[1])
    get_zone(zone)
    return _as_datetime(to_moment(args[0], fn="toTimeZone"), zone)


@stl("fromUnixTimestamp", 1, 1)
def _from_unix_timestamp(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
    if args[0] is None:
        return None
    if not is_number(args[0]):
        raise HogVMError("Function fromUnixTimestamp expects a number")
    return new_datetime(float(args[0]))


@stl("fromUnixTimestampMilli", 1, 1)
def _from_unix_timestamp_milli(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
    if args[0] is None:
        return None
    if not is_number(args[0]):
        raise HogVMError("Function fromUnixTimestampMilli expects a number")
    return new_datetime(float(args[0]) / 1000)


@stl("toUnixTimestamp", 1, 2)
def _to_unix_timestamp(ctx: StlContext, args: list[Any]) -> float | None:
    if args[0] is None:
        return None
    return to_moment(args[0], arg(args, 1), "toUnixTimestamp").timestamp()


@stl("toUnixTimestampMilli", 1, 2)
def _to_unix_timestamp_milli(ctx: StlContext, args: list[Any]) -> int | None:
    if args[0] is None:
        return None
    return round(to_moment(args[0], arg(args, 1), "toUnixTimestampMilli").timestamp() * 1000)


# --- parts ----------------------------------------------------------------------------------------


@stl("toYear", 1, 1)
def _to_year(ctx: StlContext, args: list[Any]) -> int | None:
    return None if args[0] is None else to_moment(args[0], fn="toYear").year


@stl("toMonth", 1, 1)
def _to_month(ctx: StlContext, args: list[Any]) -> int | None:
    return None if args[0] is None else to_moment(args[0], fn="toMonth").month


@stl("toYYYYMM", 1, 1)
def _to_yyyymm(ctx: StlContext, args: list[Any]) -> int | None:
    if args[0] is None:
        return None
    moment = to_moment(args[0], fn="toYYYYMM")
    return moment.year * 100 + moment.month


_PARTS = ("year", "quarter", "month", "week", "day", "dayofweek", "dayofyear", "hour", "minute", "second")


@stl("extract", 2, 2)
def _extract(ctx: StlContext, args: list[Any]) -> int | None:
    part, value = str(args[0]).lower(), args[1]
    if value is None:
        return None
    moment = to_moment(value, fn="extract")
    if part not in _PARTS:
        raise HogVMError(f"Unknown date part for extract: {args[0]}")
    if part == "quarter":
        return (moment.month - 1) // 3 + 1
    if part == "week":
        return moment.isocalendar()[1]
    if part == "dayofweek":
        return moment.isoweekday()
    if part == "dayofyear":
        return moment.timetuple().tm_yday
    return int(getattr(moment, part))


# --- truncation -----------------------------------------------------------------------------------


def truncate(value: Any, unit: str, zone: str) -> dict[str, Any]:
    moment = to_moment(value, zone, "dateTrunc")
    unit = unit.lower().rstrip("s") if unit.lower() != "s" else "second"
    if unit == "second":
        return _wall(moment, zone, microsecond=0)
    if unit == "minute":
        return _wall(moment, zone, second=0, microsecond=0)
    if unit == "hour":
        return _wall(moment, zone, minute=0, second=0, microsecond=0)
    if unit == "day":
        return _wall(moment, zone, hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        monday = moment - _dt.timedelta(days=moment.weekday())
        return _wall(monday, zone, hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        return _wall(moment, zone, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "quarter":
        first = (moment.month - 1) // 3 * 3 + 1
        return _wall(moment, zone, month=first, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "year":
        return _wall(moment, zone, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    raise HogVMError(f"Unsupported unit for dateTrunc: {unit}")


def _register_start_of(name: str, unit: str, max_args: int) -> None:
    def start_of(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
        if args[0] is None:
            return None
        zone = _zone_of(args[0], arg(args, 1) if unit != "week" else None)
        return truncate(args[0], unit, zone)

    stl(name, 1, max_args)(start_of)


_register_start_of("toStartOfDay", "day", 2)
_register_start_of("toStartOfHour", "hour", 1)
_register_start_of("toStartOfMonth", "month", 1)
_register_start_of("toStartOfWeek", "week", 2)


@stl("dateTrunc", 2, 3)
def _date_trunc(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
    if args[1] is None:
        return None
    return truncate(args[1], str(args[0]), _zone_of(args[1], arg(args, 2)))


# --- arithmetic -----------------------------------------------------------------------------------


def _add_months(moment: _dt.datetime, months: int) -> _dt.datetime:
    index = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise HogVMError("Date out of range")
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


_FIXED_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


def _shift(moment: _dt.datetime, unit: str, amount: int) -> _dt.datetime:
    unit = unit.lower().rstrip("s")
    if unit in _FIXED_SECONDS:
        # Aware arithmetic in Python is wall-clock arithmetic; hours must be absolute across DST.
        shifted = moment.astimezone(UTC) + _dt.timedelta(seconds=amount * _FIXED_SECONDS[unit])
        return shifted.astimezone(moment.tzinfo)
    try:
        if unit in ("day", "week"):
            # Calendar days keep the wall-clock time across DST changes.
            naive = moment.replace(tzinfo=None) + _dt.timedelta(days=amount * (7 if unit == "week" else 1))
            return naive.replace(tzinfo=moment.tzinfo)
    except OverflowError:
        raise HogVMError("Date out of range") from None
    if unit in ("month", "quarter", "year"):
        return _add_months(moment, amount * {"month": 1, "quarter": 3, "year": 12}[unit])
    raise HogVMError(f"Unsupported unit: {unit}")


def add_to_datetime(value: Any, unit: str, amount: int) -> dict[str, Any]:
    """``value`` shifted by ``amount`` units; a Date stays a Date for day-or-larger units."""
    if is_date(value) and unit.lower().rstrip("s") not in _FIXED_SECONDS:
        moment = _dt.datetime.combine(date_to_python(value), _dt.time(), UTC)
        return date_from_python(_shift(moment, unit, amount).date())
    zone = _zone_of(value)
    return _as_datetime(_shift(to_moment(value, zone, "dateAdd"), unit, amount), zone)


def _int_arg(value: Any, fn: str) -> int:
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return int(value)
    raise HogVMError(f"Function {fn} expects an integer amount")


@stl("dateAdd", 3, 3)
def _date_add(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
    if args[2] is None:
        return None
    return add_to_datetime(args[2], str(args[0]), _int_arg(args[1], "dateAdd"))


@stl("addDays", 2, 2)
def _add_days(ctx: StlContext, args: list[Any]) -> dict[str, Any] | None:
    if args[0] is None:
        return None
    return add_to_datetime(args[0], "day", _int_arg(args[1], "addDays"))


@stl("dateDiff", 3, 3)
def _date_diff(ctx: StlContext, args: list[Any]) -> int | None:
    """``b - a`` in whole ``unit`` boundaries crossed (ClickHouse semantics), in ``a``'s zone."""
    unit, start, end = str(args[0]).lower().rstrip("s"), args[1], args[2]
    if start is None or end is None:
        return None
    zone = _zone_of(start)
    first, second = to_moment(start, zone, "dateDiff"), to_moment(end, zone, "dateDiff")
    if unit in ("month", "quarter", "year"):
        months = (second.year * 12 + second.month) - (first.year * 12 + first.month)
        return months if unit == "month" else (months // 3 if unit == "quarter" else second.year - first.year)
    if unit in ("day", "week"):
        days = (second.date() - first.date()).days
        return days if unit == "day" else days // 7
    if unit in _FIXED_SECONDS:
        size = _FIXED_SECONDS[unit]
        wall_a = first.replace(tzinfo=UTC).timestamp()
        wall_b = second.replace(tzinfo=UTC).timestamp()
        return math.floor(wall_b / size) - math.floor(wall_a / size)
    raise HogVMError(f"Unsupported unit for dateDiff: {args[0]}")


def _register_interval(name: str, unit: str) -> None:
    def interval(ctx: StlContext, args: list[Any]) -> dict[str, Any]:
        return {"__hogInterval__": True, "value": args[0], "unit": unit}

    stl(name, 1, 1)(interval)


for _name, _unit in (("Day", "day"), ("Hour", "hour"), ("Minute", "minute"), ("Month", "month")):
    _register_interval(f"toInterval{_name}", _unit)


# --- formatting -----------------------------------------------------------------------------------


@stl("formatDateTime", 2, 3)
def _format_date_time(ctx: StlContext, args: list[Any]) -> str | None:
    if args[0] is None:
        return None
    if type(args[1]) is not str:
        raise HogVMError("Function formatDateTime expects a format string")
    zone = _zone_of(args[0], arg(args, 2))
    return format_datetime(to_moment(args[0], zone, "formatDateTime"), args[1])


__all__ = ["EPOCH_DATE", "add_to_datetime", "to_moment", "truncate"]
