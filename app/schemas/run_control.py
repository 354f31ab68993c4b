"""Request and response bodies of cancel, rerun, results and run-now (PostHog's shapes)."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.schemas.hog_flow import DRFDateTime, RequestSchema


class CancelOutcome(BaseModel):
    id: str
    outcome: Literal["requested", "already_finished", "not_found", "unmarked"]


class CancelResponse(BaseModel):
    marked: int = Field(description="In-flight runs newly flagged for cancellation by this request.")
    remaining: int = Field(description="Matching in-flight runs not yet flagged; call again when non-zero.")
    done: bool
    ids: list[CancelOutcome] | None = Field(default=None, description="Per id, only with `invocation_ids`.")


class CancelRequest(RequestSchema):
    invocation_ids: list[Any] | None = None
    all: Any = False


class RerunFilterIn(RequestSchema):
    window_start: datetime
    window_end: datetime
    status: list[Literal["running", "succeeded", "failed"]] | None = None
    error_kind: list[str] | None = None
    error_message_contains: str | None = Field(default=None, max_length=200)
    max_attempts: int | None = Field(default=None, ge=1, le=255)
    max_count: int | None = Field(default=None, ge=1, le=10_000)
    invocation_ids: list[str] | None = Field(default=None, max_length=10_000)


class RerunRequest(RequestSchema):
    filter: RerunFilterIn


class RerunResponse(BaseModel):
    rerun_job_id: str
    queued_count: int
    skipped_count: int


class InvocationResult(BaseModel):
    invocation_id: str
    status: str
    error_kind: str
    error_message: str
    distinct_id: str
    person_id: str
    scheduled_at: DRFDateTime
    started_at: DRFDateTime | None
    finished_at: DRFDateTime | None
    duration_ms: int | None
    attempts: int
    is_retry: bool


class InvocationResultDetail(InvocationResult):
    invocation_globals: dict[str, Any]


class ResultsCount(BaseModel):
    count: int


class RunNowRequest(RequestSchema):
    variables: Any = None
