"""Duration strings (`30s`, `30m`, `2h`, `1.5d`) and the wake times computed from them.

PostHog clamps each unit silently (d ≤ 30, h ≤ 24, m ≤ 60, s ≤ 60), so `48h` waits 24 hours.
"""

import re
from datetime import datetime, timedelta

_DURATION = re.compile(r"^(\d*\.?\d+)([dhms])$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_UNIT_MAX = {"d": 30, "h": 24, "m": 60, "s": 60}


class DurationError(ValueError):
    pass


def parse_duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise DurationError(f"Invalid duration: {value!r}")
    match = _DURATION.match(value.strip())
    if match is None:
        raise DurationError(f"Invalid duration: {value!r}")
    amount, unit = float(match.group(1)), match.group(2)
    return timedelta(seconds=min(amount, _UNIT_MAX[unit]) * _UNIT_SECONDS[unit])


def scheduled_at(
    duration: object, started_at: datetime, now: datetime, max_wait: timedelta | None = None
) -> datetime | None:
    """When to wake for a wait of `duration` that began at `started_at`; None once it has elapsed.

    `max_wait` caps a single sleep (PostHog polls waits at most every 10 minutes).
    """
    target = started_at + parse_duration(duration)
    if target <= now:
        return None
    if max_wait is not None:
        return min(target, now + max_wait)
    return target
