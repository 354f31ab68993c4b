"""Runs of a flow (PostHog calls them invocations) and the steps they took."""

from typing import Any
from uuid import UUID

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from app.schemas.hog_flow import DRFDateTime, RequestSchema


class RunCreate(RequestSchema):
    distinct_id: str | None = Field(default=None, description="Who the run is for.")
    person_id: UUID | None = Field(default=None, description="Alternatively, a person id.")
    event: dict[str, Any] | None = Field(
        default=None, description="Trigger event; defaults to `$workflow_triggered` for the distinct id."
    )
    variables: dict[str, Any] | None = Field(default=None, description="Overrides of the flow's variable defaults.")


class RunStep(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    action_id: str
    action_type: str
    outcome: str = Field(description="`succeeded`, `failed`, `filtered`, `waiting` or `finished`.")
    next_action_id: str | None
    error: str | None
    started_at: DRFDateTime
    finished_at: DRFDateTime


class Run(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    hog_flow: UUID = Field(validation_alias=AliasChoices("hog_flow_id", "hog_flow"))
    status: str = Field(description="`queued`, `running`, `waiting`, `completed`, `failed` or `cancelled`.")
    current_action_id: str | None
    distinct_id: str | None
    person_id: UUID | None
    parent_run_id: str | None
    version: int | None = Field(description="The flow version the run started on; it runs that version's graph.")
    next_run_at: DRFDateTime | None
    error: str | None
    created_at: DRFDateTime
    updated_at: DRFDateTime
    finished_at: DRFDateTime | None


class RunDetail(Run):
    variables: dict[str, Any]
    steps: list[RunStep]


class RunPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[Run]
