"""What a function step's async host calls (`fetch`, `sendEmail`, `sendPushNotification`) look like.

The VM pauses on such a call; the runner performs it through an `AsyncCalls` implementation (real HTTP and
SMTP, or mocks for test invocations) and resumes the VM with the outcome's `value`. Outcomes are plain
JSON (`to_json`/`from_json`) because a send record stores them: a retried pickup reuses a stored outcome
instead of sending again.
"""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol

ASYNC_FUNCTIONS = ("fetch", "sendEmail", "sendPushNotification")

# The kind a send record carries, by async function.
CALL_KINDS = {"fetch": "fetch", "sendEmail": "email", "sendPushNotification": "push"}

# PostHog retries these statuses (and network errors), never the other failures.
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class CallOutcome:
    """The result of one attempt at an async call.

    `value` is what the VM receives (`{status, body, headers}` for fetch, `{success, error?}` for email
    and push). An attempt failed when it got an HTTP status >= 400 (`status`) or no usable answer
    (`error`: no response, a refused address, an SMTP error); `retriable` says whether another attempt
    may succeed. `logs` are `(level, message)` lines for the step's log (e.g. "Email sent to ...").
    """

    value: Any
    error: str | None = None
    status: int | None = None
    retriable: bool = False
    logs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.status is not None and self.status >= 400)

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "error": self.error,
            "status": self.status,
            "retriable": self.retriable,
            "logs": [list(line) for line in self.logs],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CallOutcome":
        return cls(
            value=data.get("value"),
            error=data.get("error"),
            status=data.get("status"),
            retriable=bool(data.get("retriable")),
            logs=[(str(level), str(message)) for level, message in data.get("logs") or []],
        )


def no_response(kind: str, error_name: str, detail: str, *, retriable: bool) -> CallOutcome:
    """An attempt that got no answer. Fetch gets PostHog's `{status: 500, body: "<Name>: <detail>"}`."""
    if kind == "fetch":
        value: Any = {"status": 500, "body": f"{error_name}: {detail}", "headers": {}}
    else:
        value = {"success": False, "error": detail}
    return CallOutcome(value=value, error=detail, retriable=retriable)


class AsyncCalls(Protocol):
    """Performs async host calls. `real` is False for mocks: no send records, nothing leaves the process."""

    real: bool

    async def perform(self, name: str, args: list[Any]) -> CallOutcome: ...


@dataclass(frozen=True)
class SendKey:
    """One request of one entry into a function step: (run, action, entry, request index)."""

    run_id: str
    action_id: str
    attempt: int
    call_index: int


@dataclass(frozen=True)
class SendClaim:
    """`new`: go ahead and send. `done`: reuse `outcome`. `pending`: an earlier attempt may have sent it."""

    status: Literal["new", "done", "pending"]
    outcome: CallOutcome | None = None


class SendLedger(Protocol):
    """Send records: written pending before a request goes out and completed after (at most once)."""

    async def claim(self, key: SendKey, kind: str) -> SendClaim: ...

    async def complete(self, key: SendKey, outcome: CallOutcome) -> None: ...


@dataclass(frozen=True)
class IntegrationConfig:
    config: dict[str, Any]
    sensitive_config: dict[str, Any]


class EventCapture(Protocol):
    """Where `postHogCapture` sends events: the team's own event pipeline (which may start flows)."""

    async def capture(self, team_id: int, events: list[dict[str, Any]]) -> None: ...


class IntegrationResolver(Protocol):
    """A team's integration by id, or None (unknown, or another team's)."""

    async def resolve(self, team_id: int, integration_id: int) -> IntegrationConfig | None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """PostHog's fetch retries: 3 attempts, backoff `min(base * attempt + random(0..base), max)`."""

    attempts: int = 3
    base: timedelta = timedelta(seconds=1)
    max: timedelta = timedelta(seconds=30)

    def backoff(self, attempt: int, draw: float) -> timedelta:
        return min(self.base * attempt + self.base * draw, self.max)
