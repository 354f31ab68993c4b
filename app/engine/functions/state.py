"""What a function step keeps in `currentAction.hogFunctionState` while it is parked.

The run state is JSON in the database, so this is too. A step parks when it has used its async calls
for this pickup or when a call backs off before a retry; the next pickup picks up exactly here.
"""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FunctionState:
    vm: dict[str, Any] | None = None  # the paused VM (`ExecResult.state`), globals included
    call: dict[str, Any] | None = None  # {"name", "args"}: the async call the VM waits on, not yet answered
    attempts: int = 0  # failed attempts of `call` so far
    requests: int = 0  # requests made in this entry of the step: the next send record's call_index
    prints: int = 0  # print() lines seen, for PostHog's 25-line cap
    error: str | None = None  # a failed call's error: the step fails when the function ends
    secrets: list[str] = field(default_factory=list)  # redacted from every log line
    started_at: int = 0  # epoch ms of the step's first pickup
    memory_bytes: int = 0  # size of the globals the function started with, for the completion log

    def to_json(self) -> dict[str, Any]:
        return {
            "vm": self.vm,
            "call": self.call,
            "attempts": self.attempts,
            "requests": self.requests,
            "prints": self.prints,
            "error": self.error,
            "secrets": self.secrets,
            "startedAt": self.started_at,
            "memoryBytes": self.memory_bytes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "FunctionState":
        return cls(
            vm=data.get("vm"),
            call=data.get("call"),
            attempts=int(data.get("attempts") or 0),
            requests=int(data.get("requests") or 0),
            prints=int(data.get("prints") or 0),
            error=data.get("error"),
            secrets=list(data.get("secrets") or []),
            started_at=int(data.get("startedAt") or 0),
            memory_bytes=int(data.get("memoryBytes") or 0),
        )
