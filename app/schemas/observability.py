"""Responses of the logs and metrics endpoints (PostHog's `log_entries` and `app_metrics2` shapes)."""

from enum import StrEnum

from pydantic import BaseModel, Field

from app.schemas.hog_flow import DRFDateTime


class HogFlowLogEntry(BaseModel):
    log_source_id: str = Field(description="The flow id (or the batch job id for batch runs).")
    instance_id: str = Field(description="The run (invocation) id.")
    timestamp: DRFDateTime
    level: str = Field(description="`DEBUG`, `LOG`, `INFO`, `WARN` or `ERROR`.")
    message: str


class HogFlowLogEntryPage(BaseModel):
    count: int = Field(description="Entries in the capped list (never more than `limit`).")
    next: str | None
    previous: str | None
    results: list[HogFlowLogEntry]


class HogFlowMetricSeries(BaseModel):
    name: str = Field(description="A metric kind or name, depending on `breakdown_by`.")
    values: list[int] = Field(description="One count per label.")


class HogFlowMetrics(BaseModel):
    labels: list[str] = Field(description="Bucket starts: `YYYY-MM-DDTHH:MM` for `hour`, else `YYYY-MM-DD`.")
    series: list[HogFlowMetricSeries]


class HogFlowMetricTotals(BaseModel):
    totals: dict[str, int] = Field(description="Sum per metric kind or name, depending on `breakdown_by`.")


class MetricInterval(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


class MetricBreakdown(StrEnum):
    KIND = "kind"
    NAME = "name"
