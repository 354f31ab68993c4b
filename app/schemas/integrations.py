"""Integrations: a team's connected accounts. `sensitive_config` is write-only."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.hog_flow import DRFDateTime, RequestSchema
from app.schemas.users import UserBasic

IntegrationKind = Literal[
    "slack",
    "twilio",
    "email",
    "firebase",
    "apns",
    "discord",
    "microsoft-teams",
    "hubspot",
    "salesforce",
    "intercom",
    "linear",
    "github",
]


class IntegrationCreate(RequestSchema):
    kind: IntegrationKind
    config: dict[str, Any] = Field(
        default_factory=dict, description='Public settings, e.g. `{"account_sid": "AC…"}` for Twilio.'
    )
    sensitive_config: dict[str, Any] = Field(
        default_factory=dict,
        description='Tokens, e.g. `{"access_token": "xoxb-…"}` for Slack or `{"auth_token": …}` for Twilio. '
        "Stored, used by function steps, never returned.",
    )
    integration_id: str | None = Field(default=None, max_length=400, description="The account's id at the provider.")


class Integration(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    integration_id: str | None
    config: dict[str, Any]
    created_at: DRFDateTime
    created_by: UserBasic | None
    errors: str
    display_name: str


class IntegrationPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[Integration]
