"""Time-zone aware helpers behind Hog ``Date``/``DateTime`` values (zoneinfo, no third party)."""

from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.hog.errors import HogVMError

UTC = _dt.UTC
EPOCH_DATE = _dt.date(1970, 1, 1)


@lru_cache(maxsize=256)
def get_zone(name: str) -> _dt.tzinfo:
    if name in ("UTC", "Z", "utc", "GMT"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HogVMError(f"Unknown time zone: {name}") from None


def to_python_datetime(epoch: float, zone: str) -> _dt.datetime:
    try:
        return _dt.datetime.fromtimestamp(epoch, get_zone(zone))
    except (OverflowError, OSError, ValueError):
        raise HogVMError(f"Timestamp out of range: {epoch}") from None


def datetime_to_iso(epoch: float, zone: str) -> str:
    """``2024-05-03T14:34:56.000+02:00``; ``Z`` for UTC (as PostHog's VMs print)."""
    moment = to_python_datetime(epoch, zone)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}"
    if zone in ("UTC", "Z", "utc", "GMT"):
        return base + "Z"
    offset = moment.utcoffset() or _dt.timedelta(0)
    return base + format_offset(offset, colon=True)


def format_offset(offset: _dt.timedelta, colon: bool) -> str:
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    hours, minutes = divmod(abs(total) // 60, 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def new_datetime(epoch: float, zone: str = "UTC") -> dict[str, Any]:
    return {"__hogDateTime__": True, "dt": float(epoch), "zone": zone}


def new_date(year: int, month: int, day: int) -> dict[str, Any]:
    return {"__hogDate__": True, "year": year, "month": month, "day": day}


def date_from_python(value: _dt.date) -> dict[str, Any]:
    return new_date(value.year, value.month, value.day)


def datetime_from_python(value: _dt.datetime, zone: str) -> dict[str, Any]:
    return new_datetime(value.timestamp(), zone)


def date_to_python(value: dict[str, Any]) -> _dt.date:
    try:
        return _dt.date(int(value["year"]), int(value["month"]), int(value["day"]))
    except (KeyError, TypeError, ValueError):
        raise HogVMError("Invalid date value") from None
