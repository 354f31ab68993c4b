"""`delay` with `delay_until`: wait until a date the person or the event carries (PostHog's config).

`{delay_until: {expression, offset?, timezone?, use_person_timezone?, fallback_timezone?, bytecode},
max_delay_duration?}`. The expression runs against the filter globals (`person.properties.x`,
`properties.x`) and may yield an ISO string, a Hog date or datetime, or unix seconds. A date with no
offset of its own is read in the configured zone; the wait never runs past `max_delay_duration`
(default 30d) after the step started. A date that cannot be resolved aborts the run whatever
`on_error` says: there is nothing safe to fall through to.
"""

import asyncio
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from app.engine.actions.base import ActionError
from app.engine.actions.time_window import resolve_timezone
from app.engine.durations import DurationError, parse_duration, parse_offset
from app.engine.filtering import STEP_FILTER_LIMITS
from app.engine.invocation import Invocation
from app.hog.runtime import execute

DEFAULT_MAX_DELAY = "30d"
# Unix seconds beyond this are almost surely milliseconds (year ~5138): refuse rather than wait forever.
MAX_UNIX_SECONDS = 1e11


async def delay_until_wake(config: dict[str, Any], invocation: Invocation, now: datetime) -> datetime | None:
    """When to wake, or None when the date (capped by `max_delay_duration`) has passed."""
    spec = config.get("delay_until")
    if not isinstance(spec, dict) or not spec.get("bytecode"):
        raise ActionError("delay_until has no compiled expression", abort=True)
    zone = resolve_timezone(spec, invocation.person)
    value = await _evaluate(spec["bytecode"], invocation)
    target = to_instant(value, zone)
    if spec.get("offset"):
        try:
            target += parse_offset(spec["offset"])
        except DurationError as error:
            raise ActionError(str(error), abort=True) from error
    try:
        cap = invocation.current_started_at() + parse_duration(config.get("max_delay_duration") or DEFAULT_MAX_DELAY)
    except DurationError as error:
        raise ActionError(str(error), abort=True) from error
    target = min(target, cap)
    return target if target > now else None


async def _evaluate(bytecode: Any, invocation: Invocation) -> Any:
    """Off the event loop and within the step filters' limits: the expression is a client's."""
    globals = invocation.filter_globals(with_variables=True)
    try:
        outcome = await asyncio.to_thread(execute, bytecode, globals, limits=STEP_FILTER_LIMITS)
    except Exception as error:
        raise ActionError(f"delay_until.expression failed: {error}", abort=True) from error
    if not outcome.finished:
        raise ActionError("delay_until.expression did not finish", abort=True)
    return outcome.result


def to_instant(value: Any, zone: ZoneInfo) -> datetime:
    """An instant from what the expression yielded; naive dates and times are read in `zone`."""
    if isinstance(value, bool):
        raise _unresolved(value)
    if isinstance(value, (int, float)):
        if abs(value) > MAX_UNIX_SECONDS:
            raise ActionError(
                f"delay_until resolved to {value}, which looks like milliseconds: unix time must be in seconds",
                abort=True,
            )
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, dict) and value.get("__hogDateTime__") is True:
        return datetime.fromtimestamp(float(value["dt"]), tz=UTC)
    if isinstance(value, dict) and value.get("__hogDate__") is True:
        return datetime.combine(date(value["year"], value["month"], value["day"]), time(), zone)
    if isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as error:
            raise _unresolved(value) from error
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
    raise _unresolved(value)


def _unresolved(value: Any) -> ActionError:
    return ActionError(f"delay_until could not resolve a date from {value!r}", abort=True)
