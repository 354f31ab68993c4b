"""`wait_until_time_window`: continue inside a window of days and hours, else sleep until it opens.

Two deliberate differences from PostHog's reference (listed in the README): a window that is open
now lets the run pass now (also for `time: "any"`), and a window that crosses midnight (`22:00` to `02:00`)
is honoured.
"""

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.engine.actions.base import ActionContext, ActionError, ActionResult
from app.engine.invocation import Invocation

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _zone(name: Any) -> ZoneInfo | None:
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def resolve_timezone(config: dict[str, Any], person: dict[str, Any] | None) -> ZoneInfo:
    if config.get("use_person_timezone"):
        properties = (person or {}).get("properties") or {}
        zone = _zone(properties.get("$geoip_time_zone")) or _zone(config.get("fallback_timezone"))
        if zone:
            return zone
    return _zone(config.get("timezone")) or ZoneInfo("UTC")


def _allowed_days(day: Any) -> set[int]:
    if day in (None, "any"):
        return set(range(7))
    if day == "weekday":
        return set(range(5))
    if day == "weekend":
        return {5, 6}
    if isinstance(day, list):
        return {WEEKDAYS.index(d) for d in day if d in WEEKDAYS}
    raise ActionError(f"Invalid day setting: {day!r}")


def _parse_time(value: Any) -> time:
    try:
        hours, minutes = str(value).split(":")
        return time(int(hours), int(minutes))
    except ValueError as error:
        raise ActionError(f"Invalid time setting: {value!r}") from error


def next_window_start(config: dict[str, Any], now: datetime, zone: ZoneInfo) -> datetime | None:
    """None when the window is open at `now`, else when it next opens (timezone-aware)."""
    days = _allowed_days(config.get("day", "any"))
    if not days:
        raise ActionError("The time window allows no day")
    window = config.get("time", "any")
    local = now.astimezone(zone)
    if window in (None, "any"):
        start, end = time(0, 0), None
    elif isinstance(window, list) and len(window) == 2:
        start, end = _parse_time(window[0]), _parse_time(window[1])
    else:
        raise ActionError(f"Invalid time setting: {window!r}")
    if _is_open(local, days, start, end):
        return None
    # Look at most a week ahead: the first allowed day whose opening time is still to come.
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        opening = datetime.combine(day, start, tzinfo=zone)
        if day.weekday() in days and opening > local:
            return opening
    raise ActionError("Could not find the next time window")


def _is_open(local: datetime, days: set[int], start: time, end: time | None) -> bool:
    clock = local.time()
    if end is None:
        return local.weekday() in days
    if start <= end:
        return local.weekday() in days and start <= clock <= end
    # Crosses midnight: open from `start` on an allowed day until `end` the next morning.
    if clock >= start:
        return local.weekday() in days
    yesterday = (local - timedelta(days=1)).weekday()
    return clock <= end and yesterday in days


async def wait_until_time_window(
    invocation: Invocation, action: dict[str, Any], context: ActionContext
) -> ActionResult:
    config = action.get("config") or {}
    zone = resolve_timezone(config, invocation.person)
    opening = next_window_start(config, context.now, zone)
    if opening is not None:
        return ActionResult(scheduled_at=opening)
    return ActionResult(next_action=invocation.flow.next_action(action["id"]))
