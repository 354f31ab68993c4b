"""The contract between the executor and an action handler."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from app.engine.invocation import Invocation
from app.engine.records import LogRecord, MetricRecord
from app.engine.waits import WaitRegistration


class ActionError(Exception):
    """The action failed; its `on_error` setting decides whether the run goes on, unless `abort`."""

    def __init__(self, message: str, *, abort: bool = False) -> None:
        super().__init__(message)
        self.abort = abort


@dataclass
class ActionResult:
    next_action: dict[str, Any] | None = None
    scheduled_at: datetime | None = None
    finished: bool = False
    result: Any = None
    # Replace the step's wait registrations with these ([] clears them); None leaves them alone.
    waits: list[WaitRegistration] | None = None


@dataclass
class Recorder:
    """Collects the log lines and metrics of one pickup, stamped with the run's identity."""

    invocation: Invocation
    clock: Callable[[], datetime]
    logs: list[LogRecord] = field(default_factory=list)
    metrics: list[MetricRecord] = field(default_factory=list)

    def log(self, level: str, message: str) -> None:
        self.logs.append(
            LogRecord(
                team_id=self.invocation.team_id,
                log_source_id=self.invocation.source_id,
                instance_id=self.invocation.id,
                timestamp=self.clock(),
                level=level,
                message=message,
            )
        )

    def metric(self, kind: str, name: str, instance_id: str | None = None, count: int = 1) -> None:
        self.metrics.append(
            MetricRecord(
                team_id=self.invocation.team_id,
                app_source_id=self.invocation.source_id,
                instance_id=instance_id,
                metric_kind=kind,
                metric_name=name,
                timestamp=self.clock(),
                count=count,
            )
        )


class FunctionRunner(Protocol):
    """Runs a function step (webhook, Slack, email...). Provided by the worker, not the engine."""

    async def __call__(
        self, invocation: Invocation, action: dict[str, Any], context: "ActionContext"
    ) -> ActionResult: ...


@dataclass
class ActionContext:
    recorder: Recorder
    clock: Callable[[], datetime]
    random: Callable[[], float]
    run_function: FunctionRunner | None = None

    @property
    def now(self) -> datetime:
        return self.clock()


Handler = Callable[[Invocation, dict[str, Any], ActionContext], Awaitable[ActionResult]]
