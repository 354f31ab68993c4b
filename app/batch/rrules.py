"""RRULE schedules: validation and the next occurrences (PostHog's `rrule_utils`, api.md §5.3).

The rule is expanded in the naive local time of the schedule's time zone, so "every day at 9:00
Europe/Prague" stays at 9:00 local across DST changes; each occurrence is then converted to UTC.
"""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rruleset, rrulestr


class InvalidRRule(ValueError):
    pass


def validate_rrule(text: str) -> None:
    """An RRULE string without DTSTART (the schedule's `starts_at` anchors it)."""
    if "DTSTART" in text.upper():
        raise InvalidRRule("RRULE must not contain DTSTART")
    try:
        rrulestr(text)
    except (ValueError, TypeError) as error:
        raise InvalidRRule(str(error)) from error


def _rule(text: str, starts_at: datetime, zone: ZoneInfo) -> rrule | rruleset:
    starts_local = starts_at.astimezone(zone).replace(tzinfo=None)
    return rrulestr(text, dtstart=starts_local, ignoretz=True)


def next_occurrences(
    text: str, starts_at: datetime, timezone: str = "UTC", *, after: datetime | None = None, count: int = 1
) -> list[datetime]:
    """The next `count` occurrences strictly after `after` (default: now), in UTC.

    Raises `KeyError`/`ValueError` for an unknown time zone (and `ValueError` for a bad rule).
    """
    zone = ZoneInfo(timezone)
    if starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=UTC)
    rule = _rule(text, starts_at, zone)
    current = (after or datetime.now(UTC)).astimezone(zone).replace(tzinfo=None)
    found: list[datetime] = []
    for _ in range(count * 10):
        occurrence = rule.after(current, inc=False)
        if occurrence is None:
            break
        found.append(occurrence.replace(tzinfo=zone).astimezone(UTC))
        if len(found) >= count:
            break
        current = occurrence
    return found
