"""Persons: upserts (one or many) and the person object."""

from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.schemas.hog_flow import DRFDateTime, RequestSchema


def _not_blank(value: str) -> str:
    from pydantic_core import PydanticCustomError

    if not value.strip():
        raise PydanticCustomError("blank", "This field may not be blank.")
    return value


class PersonUpsert(RequestSchema):
    distinct_id: Annotated[str, Field(max_length=400)] = Field(description="Who: created if unknown.")
    properties: dict[str, Any] = Field(default_factory=dict, description="`$set`: overwrite these properties.")
    properties_set_once: dict[str, Any] = Field(
        default_factory=dict, description="`$set_once`: set these only where the person has no value yet."
    )

    _check_blank = field_validator("distinct_id")(_not_blank)


class PersonsUpsert(RequestSchema):
    """One person (`distinct_id`, `properties`, `properties_set_once`) or many (`persons`)."""

    distinct_id: Annotated[str, Field(max_length=400)] | None = None
    properties: dict[str, Any] | None = None
    properties_set_once: dict[str, Any] | None = None
    persons: list[PersonUpsert] | None = Field(default=None, description="Bulk form: a list of upserts.")


class Person(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    uuid: UUID = Field(description="Same as `id` (PostHog has an integer `id` and a `uuid`).")
    name: str = Field(description="Email, name, username or the first distinct id.")
    distinct_ids: list[str]
    properties: dict[str, Any]
    created_at: DRFDateTime
    updated_at: DRFDateTime


class PersonPage(BaseModel):
    count: int
    next: str | None
    previous: str | None
    results: list[Person]


class PersonsUpserted(BaseModel):
    upserted: int = Field(description="Distinct ids upserted (repeats in one request count once).")
