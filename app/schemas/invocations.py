"""Test invocations (`POST .../hog_flows/{id}/invocations/`)."""

from typing import Any

from pydantic import BaseModel, Field

from app.schemas.hog_flow import DRFDateTime


class InvocationRequest(BaseModel):
    configuration: dict[str, Any] | None = Field(
        default=None, description="A full flow (as for create) that overrides the saved one field by field."
    )
    globals: dict[str, Any] | None = Field(
        default=None, description="`{event, person, groups, variables}`; `event` is required."
    )
    mock_async_functions: bool = Field(default=True, description="Fake HTTP, email and SMS calls.")
    current_action_id: str | None = Field(default=None, description="Run this action instead of the first one.")
    invocation_id: str | None = None
    use_draft: bool = Field(default=False, description="Test the flow's staged draft instead of its live content.")


class InvocationLog(BaseModel):
    level: str
    timestamp: DRFDateTime
    message: str


class InvocationResponse(BaseModel):
    nextActionId: str | None
    status: str = Field(description="`success` or `error`.")
    errors: list[str]
    logs: list[InvocationLog]
    variables: dict[str, Any]
    execResult: Any = None
