"""A flow's recurring schedule (PostHog's `HogFlowSchedule`)."""

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.hog_flow import DRFDateTime


class Schedule(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    rrule: str = Field(description="iCalendar RRULE without DTSTART, e.g. `FREQ=WEEKLY;BYDAY=MO;BYHOUR=9`.")
    starts_at: DRFDateTime
    timezone: str = Field(description="IANA time zone the rule is expanded in.")
    variables: Any
    status: str = Field(description="`active`, `paused` or `completed` (read-only).")
    next_run_at: DRFDateTime | None = Field(description="Read-only: the next occurrence, in UTC.")
    created_at: DRFDateTime
    updated_at: DRFDateTime


SCHEDULE_BODY_EXAMPLE = {
    "rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0",
    "starts_at": "2030-01-01T00:00:00Z",
    "timezone": "Europe/Prague",
    "variables": {"campaign": "weekly"},
}
