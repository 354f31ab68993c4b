"""RRULE schedules: validation and the next occurrences (PostHog's `rrule_utils`, api.md §5.3).

The rule is expanded in the naive local time of the schedule's time zone, so "every day at 9:00
Europe/Prague" stays at 9:00 local across DST changes; each occurrence is then converted to UTC.

dateutil walks a rule from its start one occurrence at a time, so `FREQ=SECONDLY` started a year
ago is tens of millions of steps. Rules without COUNT at a fixed period (weekly and finer) are
therefore restarted a whole number of periods later, just before the time asked about: same phase,
same BY* filters, same occurrences. Whatever still takes too long fails with `RRuleTooExpensive`.
"""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, HOURLY, MINUTELY, SECONDLY, WEEKLY, rrule, rruleset, rrulestr

MAX_STEPS = 100_000
_PERIODS = {
    WEEKLY: timedelta(weeks=1),
    DAILY: timedelta(days=1),
    HOURLY: timedelta(hours=1),
    MINUTELY: timedelta(minutes=1),
    SECONDLY: timedelta(seconds=1),
}


class InvalidRRule(ValueError):
    pass


class RRuleTooExpensive(Exception):
    """The rule needs too many steps to reach the time asked about."""


def validate_rrule(text: str) -> None:
    """An RRULE string without DTSTART (the schedule's `starts_at` anchors it)."""
    if "DTSTART" in text.upper():
        raise InvalidRRule("RRULE must not contain DTSTART")
    try:
        rrulestr(text)
    except (ValueError, TypeError) as error:
        raise InvalidRRule(str(error)) from error


def _closer_start(rule: rrule | rruleset, after: datetime) -> Any:
    """The same rule started a whole number of periods later, just before `after` (when that is exact)."""
    if not isinstance(rule, rrule):
        return rule
    state = vars(rule)  # dateutil keeps the parsed rule in private attributes
    if state["_count"] is not None or state["_freq"] not in _PERIODS:
        return rule
    period = _PERIODS[state["_freq"]] * state["_interval"]
    start: datetime = state["_dtstart"]
    periods = (after - start) // period - 1
    if periods <= 0:
        return rule
    return rule.replace(dtstart=start + periods * period)


def next_occurrences(
    text: str, starts_at: datetime, timezone: str = "UTC", *, after: datetime | None = None, count: int = 1
) -> list[datetime]:
    """The next `count` occurrences strictly after `after` (default: now), in UTC.

    Raises `KeyError`/`ValueError` for an unknown time zone (and `ValueError` for a bad rule).
    """
    zone = ZoneInfo(timezone)
    if starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=UTC)
    starts_local = starts_at.astimezone(zone).replace(tzinfo=None)
    after_local = (after or datetime.now(UTC)).astimezone(zone).replace(tzinfo=None)
    rule = _closer_start(rrulestr(text, dtstart=starts_local, ignoretz=True), after_local)
    found: list[datetime] = []
    for step, occurrence in enumerate(rule):
        if step >= MAX_STEPS:
            raise RRuleTooExpensive(text)
        if occurrence <= after_local:
            continue
        found.append(occurrence.replace(tzinfo=zone).astimezone(UTC))
        if len(found) >= count:
            break
    return found
