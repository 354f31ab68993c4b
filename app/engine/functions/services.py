"""The two ways async host calls are performed: for real, or mocked (test invocations)."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.engine.functions.calls import CallOutcome, no_response
from app.engine.functions.email import SmtpEmailSender
from app.engine.functions.fetch import FetchRequest, HttpFetcher

PUSH_UNSUPPORTED = "Push notifications (Firebase, APNs) are not supported by this service"


@dataclass
class RealCalls:
    """HTTP through `HttpFetcher`, email through SMTP. Push has no provider here and always fails."""

    fetcher: HttpFetcher
    email: SmtpEmailSender
    real: bool = True

    async def perform(self, name: str, args: list[Any]) -> CallOutcome:
        if name == "fetch":
            return await self.fetcher.fetch(FetchRequest.from_hog_args(args))
        if name == "sendEmail":
            return await self.email.send(args[0] if args else None)
        return no_response("push", "NotSupportedError", PUSH_UNSUPPORTED, retriable=False)


@dataclass(frozen=True)
class MockLog:
    level: str
    timestamp: datetime
    message: str


# What a mocked call answers (PostHog's test-invocation mocks).
_MOCK_VALUES: dict[str, Any] = {
    "fetch": {"status": 200, "body": {}},
    "sendEmail": {"success": True},
    "sendPushNotification": {"success": True},
}


@dataclass
class MockedCalls:
    """Nothing is sent: each call is logged the way PostHog's test invocations log it and answered with success.

    The lines are kept in `logs`; the test-invocation response lists them after the step's own logs.
    """

    clock: Callable[[], datetime]
    logs: list[MockLog] = field(default_factory=list)
    real: bool = False

    async def perform(self, name: str, args: list[Any]) -> CallOutcome:
        now = self.clock()
        self.logs.append(MockLog("info", now, f"Async function '{name}' was mocked with arguments:"))
        if name == "fetch" and args:
            rest = "".join(f", {_pretty(arg)}" for arg in args[1:])
            call = f"fetch('{args[0]}'{rest})"
        else:
            call = f"{name}({', '.join(_pretty(arg) for arg in args)})"
        self.logs.append(MockLog("info", now, call))
        return CallOutcome(value=_MOCK_VALUES.get(name, {}))


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
