"""Responses of the draft cycle: publish preview and result, revisions."""

from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.hog_flow import DRFDateTime, HogFlow
from app.schemas.users import UserBasic
from app.services.secret_inputs import strip_secret_inputs


class MovedTo(BaseModel):
    action_id: str
    name: str | None


class DeletedStep(BaseModel):
    action_id: str | None
    name: str | None
    runs: int | None = Field(description="Runs parked on the step (null when unknown).")
    moves_to: MovedTo | None = Field(description="Always null here: those runs finish on their own version.")
    exits: bool


class PublishImpact(BaseModel):
    deleted_steps: list[DeletedStep]
    position_unknown: int | None
    empty_variables: list[Any]
    schedule_conflicts: list[Any]


class PublishPreview(BaseModel):
    in_flight_runs: int | None = Field(description="Unfinished runs of the flow.")
    draft_updated_at: DRFDateTime = Field(description="The draft this preview (and its token) is for.")
    confirm_token: str = Field(description="Send back with `confirm: true` to publish this draft.")
    impact: PublishImpact


class PublishResult(BaseModel):
    workflow: HogFlow


class Revision(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    version: int
    created_at: DRFDateTime
    created_by: UserBasic | None = Field(description="Null for the snapshot taken before the first change.")


class RevisionDetail(Revision):
    content: dict[str, Any] = Field(description="The flow's content fields at this version, without secret inputs.")

    @model_validator(mode="after")
    def _without_secrets(self) -> Self:
        # Secret inputs never appear in a revision as read (PostHog snapshots revisions secret-free).
        content = dict(self.content)
        if "actions" in content:
            content["actions"] = strip_secret_inputs(content["actions"])
        if isinstance(content.get("trigger"), dict):
            content["trigger"] = strip_secret_inputs([{"type": "trigger", "config": content["trigger"]}])[0]["config"]
        self.content = content
        return self


class RevisionPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[Revision]
