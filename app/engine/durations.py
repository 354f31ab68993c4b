"""Duration strings (`45s`, `30m`, `2h`, `1.5d`) and the wake times computed from them.

PostHog clamps each unit of a delay silently (d ≤ 30, h ≤ 24, m ≤ 60, s ≤ 60), so `48h` waits 24
hours. A `delay_until` offset is signed (`-1d`) and not clamped; `max_delay_duration` bounds it instead.
"""

import re
from datetime import datetime, timedelta

DURATION_PATTERN = re.compile(r"^\d*\.?\d+[dhms]$")
OFFSET_PATTERN = re.compile(r"^-?\d*\.?\d+[dhms]$")
_DURATION = re.compile(r"^(-?)(\d*\.?\d+)([dhms])$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_MAX = {"d": 30, "h": 24, "m": 60, "s": 60}


class DurationError(ValueError):
    pass


def _parts(value: object) -> tuple[bool, float, str]:
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise DurationError(f"Invalid duration: {value!r}")
    return match.group(1) == "-", float(match.group(2)), match.group(3)


def parse_duration(value: object) -> timedelta:
    """An unsigned delay, clamped per unit as PostHog does."""
    negative, amount, unit = _parts(value)
    if negative:
        raise DurationError(f"Invalid duration: {value!r}")
    return timedelta(seconds=min(amount, _UNIT_MAX[unit]) * _UNIT_SECONDS[unit])


def parse_offset(value: object) -> timedelta:
    """A signed `delay_until` offset, taken whole."""
    negative, amount, unit = _parts(value)
    seconds = amount * _UNIT_SECONDS[unit]
    return timedelta(seconds=-seconds if negative else seconds)


def scheduled_at(
    duration: object, started_at: datetime, now: datetime, max_wait: timedelta | None = None
) -> datetime | None:
    """When to wake for a wait of `duration` that began at `started_at`; None once it has elapsed.

    `max_wait` caps a single sleep (a branch re-checks its conditions at least that often).
    """
    target = started_at + parse_duration(duration)
    if target <= now:
        return None
    if max_wait is not None:
        return min(target, now + max_wait)
    return target
