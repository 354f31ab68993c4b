"""Log lines and metric increments a run produces, before they are written in batches."""

from dataclasses import dataclass
from datetime import datetime

LOG_SOURCE = "hog_flow"


@dataclass(frozen=True)
class LogRecord:
    """A row of PostHog's `log_entries` for a hog flow."""

    team_id: int
    log_source_id: str  # the flow id, or the batch job id for batch runs
    instance_id: str  # the run id
    timestamp: datetime
    level: str  # debug | info | warn | error
    message: str


@dataclass(frozen=True)
class MetricRecord:
    """A row of PostHog's `app_metrics2` for a hog flow."""

    team_id: int
    app_source_id: str
    instance_id: str | None
    metric_kind: str
    metric_name: str
    timestamp: datetime
    count: int = 1


@dataclass(frozen=True)
class StepRecord:
    """One action executed by a pickup, for the run's trace."""

    action_id: str
    action_type: str
    outcome: str  # succeeded | failed | filtered | waiting | finished | exited
    started_at: datetime
    finished_at: datetime
    next_action_id: str | None = None
    error: str | None = None
