"""`user_blast_radius` and `bulk_delete` of hog flows."""

from pydantic import BaseModel, Field


class BlastRadius(BaseModel):
    affected: int = Field(
        description=(
            "Persons of the team matching the filters; with `dedupe_key`, the sends "
            "(distinct emails plus persons without one)."
        )
    )
    total: int = Field(description="Persons of the team.")
    limit: int | None = Field(
        description="Most runs one batch job creates (`HOGFLOWS_BATCH_MAX_AUDIENCE`); null: no cap."
    )
    dedupe_key: str | None = Field(description="The dedupe key applied, or null.")
    without_email: int | None = Field(
        default=None, description="With `dedupe_key: email`: matching persons without an email (each one send)."
    )
    confirm_token: str | None = Field(
        default=None,
        description=(
            "Given above `HOGFLOWS_BATCH_CONFIRM_THRESHOLD` persons: send it as `confirm_token` when "
            "starting a batch job for these filters (valid one hour)."
        ),
    )


class BulkDeleted(BaseModel):
    deleted: int = Field(description="Archived flows deleted, plus their schedules and batch jobs (as PostHog counts).")


BLAST_RADIUS_EXAMPLE = {"filters": {"properties": [{"key": "plan", "value": "pro", "type": "person"}]}}
