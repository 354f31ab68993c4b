"""PostHog's `UserBasic`, the shape of `created_by`."""

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class UserBasic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    uuid: UUID
    distinct_id: str
    first_name: str
    last_name: str
    email: str
    is_email_verified: bool | None
    hedgehog_config: dict[str, Any] | None
    role_at_organization: str | None
