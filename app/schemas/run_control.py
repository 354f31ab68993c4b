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
    status: list[Literal["running", "succeeded", "failed", "canceled"]] | None = None
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
    """A run as a row of PostHog's `hog_invocation_results`."""

    invocation_id: str
    status: str = Field(description="succeeded, failed, canceled or running (queued, running or parked runs).")
    error_kind: str = Field(description="timeout, http_5xx, http_4xx, oom or hog_error; empty without an error.")
    error_message: str
    distinct_id: str
    person_id: str
    scheduled_at: DRFDateTime = Field(description="When the run was created.")
    started_at: DRFDateTime | None = Field(description="When a worker first picked the run up.")
    finished_at: DRFDateTime | None
    duration_ms: int | None
    attempts: int = Field(description="How many times the run was rerun (0 for a run never rerun).")
    is_retry: bool


class InvocationResultDetail(InvocationResult):
    invocation_globals: dict[str, Any] = Field(
        description="The run's state (trigger event, variables, person id, current action) without any `inputs`."
    )


class ResultsCount(BaseModel):
    count: int = Field(
        description="Number of invocations matching the filters, without the list endpoint's 500-row cap."
    )


class RunNowRequest(RequestSchema):
    variables: Any = None


class RunNowResponse(BaseModel):
    status: Literal["queued"] = "queued"
    invocation_id: str
