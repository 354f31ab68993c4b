"""Schedules of a flow (api.md §5.3): validation in PostHog's order and messages, CRUD, `next_run_at`.

Rules, on create and on PATCH (where missing fields fall back to the stored schedule):

1. no RRULE → `rrule`: "RRULE string is required."
2. an RRULE sent that does not parse or has DTSTART → `rrule`: "Invalid RRULE."
3. no start → `starts_at`: "Start date is required."
4. an unknown time zone → `timezone`: "Invalid or unknown timezone."
5. the next two occurrences after now: none → `rrule`: "Schedule produces no future occurrences.";
   less than an hour apart → `rrule`: "Schedules must run at most once per hour."

Unlike PostHog (which leaves it null until its scheduler polls), `next_run_at` is computed on save.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from app.batch.rrules import InvalidRRule, RRuleTooExpensive, next_occurrences, validate_rrule
from app.db.base import utcnow
from app.db.models import HogFlow, HogFlowSchedule
from app.db.repositories.schedules import ScheduleRepository
from app.errors import NotFound, ValidationError

RRULE_REQUIRED = "RRULE string is required."
RRULE_INVALID = "Invalid RRULE."
START_REQUIRED = "Start date is required."
TIMEZONE_INVALID = "Invalid or unknown timezone."
NO_OCCURRENCES = "Schedule produces no future occurrences."
TOO_FREQUENT = "Schedules must run at most once per hour."
DATETIME_FORMAT = (
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
)
TIMEZONE_MAX_LENGTH = 64
SCHEDULE_NOT_FOUND = "Schedule not found"
_RESCHEDULING_FIELDS = ("rrule", "starts_at", "timezone")


@dataclass(frozen=True)
class ScheduleFields:
    """The fields a request writes (only those it sent), after validation, and the next occurrence."""

    values: dict[str, Any]
    next_run_at: datetime | None


def _parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str) or len(value) < 16 or value[10] not in "T ":
        raise ValidationError(DATETIME_FORMAT, attr="starts_at")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(DATETIME_FORMAT, attr="starts_at") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _field_values(body: dict[str, Any]) -> dict[str, Any]:
    """DRF's field checks, in serializer field order (`rrule`, `starts_at`, `timezone`, `variables`)."""
    values: dict[str, Any] = {}
    if "rrule" in body:
        rrule = body["rrule"]
        if rrule is not None and not isinstance(rrule, str):
            if isinstance(rrule, (dict, list, bool)):
                raise ValidationError("Not a valid string.", attr="rrule")
            rrule = str(rrule)
        values["rrule"] = rrule.strip() if isinstance(rrule, str) else None
    if "starts_at" in body:
        starts_at = body["starts_at"]
        values["starts_at"] = None if starts_at in (None, "") else _parse_datetime(starts_at)
    if "timezone" in body:
        timezone = body["timezone"]
        if timezone is None:
            raise ValidationError("This field may not be null.", attr="timezone", code="null")
        if isinstance(timezone, (int, float)) and not isinstance(timezone, bool):
            timezone = str(timezone)  # DRF's CharField accepts numbers
        if not isinstance(timezone, str):
            raise ValidationError("Not a valid string.", attr="timezone")
        if not timezone.strip():
            raise ValidationError("This field may not be blank.", attr="timezone", code="blank")
        if len(timezone) > TIMEZONE_MAX_LENGTH:
            raise ValidationError(
                f"Ensure this field has no more than {TIMEZONE_MAX_LENGTH} characters.",
                attr="timezone",
                code="max_length",
            )
        values["timezone"] = timezone.strip()
    if "variables" in body:
        if body["variables"] is None:
            raise ValidationError("This field may not be null.", attr="variables", code="null")
        values["variables"] = body["variables"]
    return values


def validate_schedule(body: Any, stored: HogFlowSchedule | None, now: datetime | None = None) -> ScheduleFields:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        kind = type(body).__name__
        raise ValidationError(f"Invalid data. Expected a dictionary, but got {kind}.", attr="non_field_errors")
    values = _field_values(body)
    rrule = values.get("rrule", stored.rrule if stored else None)
    starts_at = values.get("starts_at", stored.starts_at if stored else None)
    timezone = values.get("timezone", stored.timezone if stored else "UTC")
    if not rrule:
        raise ValidationError(RRULE_REQUIRED, attr="rrule")
    if "rrule" in values:
        try:
            validate_rrule(rrule)
        except InvalidRRule:
            raise ValidationError(RRULE_INVALID, attr="rrule") from None
    if not starts_at:
        raise ValidationError(START_REQUIRED, attr="starts_at")
    try:
        sample = next_occurrences(rrule, starts_at, timezone, after=now, count=2)
    except (KeyError, ValueError):
        raise ValidationError(TIMEZONE_INVALID, attr="timezone") from None
    except RRuleTooExpensive:
        raise ValidationError(RRULE_INVALID, attr="rrule") from None
    if not sample:
        raise ValidationError(NO_OCCURRENCES, attr="rrule")
    if len(sample) == 2 and sample[1] - sample[0] < timedelta(hours=1):
        raise ValidationError(TOO_FREQUENT, attr="rrule")
    return ScheduleFields(values=values, next_run_at=sample[0])


async def create_schedule(session: AsyncSession, flow: HogFlow, body: Any) -> HogFlowSchedule:
    fields = validate_schedule(body, None)
    now = utcnow()
    schedule = HogFlowSchedule(
        team_id=flow.team_id,
        hog_flow_id=flow.id,
        rrule=fields.values["rrule"],
        starts_at=fields.values["starts_at"],
        timezone=fields.values.get("timezone", "UTC"),
        variables=fields.values.get("variables", {}),
        status="active",
        next_run_at=fields.next_run_at,
        created_at=now,
        updated_at=now,
    )
    return await ScheduleRepository(session).add(schedule)


async def get_schedule(session: AsyncSession, flow: HogFlow, raw_id: str) -> HogFlowSchedule:
    try:
        schedule_id = UUID(raw_id)
    except ValueError:
        raise NotFound(SCHEDULE_NOT_FOUND) from None
    schedule = await ScheduleRepository(session).get_for_flow(flow.team_id, flow.id, schedule_id)
    if schedule is None:
        raise NotFound(SCHEDULE_NOT_FOUND)
    return schedule


async def update_schedule(session: AsyncSession, schedule: HogFlowSchedule, body: Any) -> HogFlowSchedule:
    fields = validate_schedule(body, schedule)
    for name, value in fields.values.items():
        setattr(schedule, name, value)
    if any(name in fields.values for name in _RESCHEDULING_FIELDS):
        # PostHog nulls `next_run_at` for its scheduler to recompute; we recompute it now.
        schedule.next_run_at = fields.next_run_at
        if schedule.status != "paused":
            schedule.status = "active"
    schedule.updated_at = utcnow()
    return await ScheduleRepository(session).save(schedule)


async def delete_schedule(session: AsyncSession, schedule: HogFlowSchedule) -> None:
    await ScheduleRepository(session).delete(schedule)
