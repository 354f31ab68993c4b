"""`user_blast_radius` and `bulk_delete` of hog flows."""

from pydantic import BaseModel, Field


class BlastRadius(BaseModel):
    affected: int = Field(description="Persons of the team matching the filters.")
    total: int = Field(description="Persons of the team.")


class BulkDeleted(BaseModel):
    deleted: int = Field(description="Archived flows deleted, plus their schedules and batch jobs (as PostHog counts).")


BLAST_RADIUS_EXAMPLE = {"filters": {"properties": [{"key": "plan", "value": "pro", "type": "person"}]}}
