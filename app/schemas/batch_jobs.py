"""A batch job (PostHog's `HogFlowBatchJob`) as the API renders it, with our progress counters."""

from typing import Any
from uuid import UUID

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from app.schemas.hog_flow import DRFDateTime
from app.schemas.users import UserBasic

BATCH_JOB_STATUSES = ("waiting", "queued", "active", "completed", "cancelled", "failed")


class BatchJob(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    status: str = Field(description="`waiting`, `queued`, `active`, `completed`, `cancelled` or `failed`.")
    hog_flow: UUID = Field(validation_alias=AliasChoices("hog_flow_id", "hog_flow"))
    filters: Any = Field(description="Audience overrides: `filter_test_accounts`, `properties`.")
    variables: Any = Field(description="Variable values every run of the job starts with.")
    created_at: DRFDateTime
    created_by: UserBasic | None
    updated_at: DRFDateTime
    persons_matched: int = Field(description="Added: persons of the audience found so far.")
    runs_created: int = Field(description="Added: runs started so far (one per person).")


class BatchJobCancelled(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str = Field(description="The job's status after this request: `cancelled`, or how it had already ended.")
    marked: int = Field(description="Unfinished runs of the job cancelled by this request.")
    remaining: int = Field(description="Unfinished runs not yet cancelled (always 0 here: one call cancels all).")
    done: bool = Field(description="True when no unfinished run of the job remains.")


BATCH_JOB_BODY_EXAMPLE = {"variables": [{"key": "first_name", "value": "Test"}], "filters": {}}
