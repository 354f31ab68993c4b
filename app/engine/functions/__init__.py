"""Function steps: templates run in the Hog VM, with real HTTP (`fetch`) and SMTP (`sendEmail`) side effects.

Nothing here touches the database: send records and integrations come in through the `SendLedger`
and `IntegrationResolver` protocols, which the worker implements.
"""

from app.engine.functions.calls import (
    AsyncCalls,
    CallOutcome,
    EventCapture,
    IntegrationConfig,
    IntegrationResolver,
    RetryPolicy,
    SendClaim,
    SendKey,
    SendLedger,
)
from app.engine.functions.email import SmtpEmailSender, SmtpSettings
from app.engine.functions.fetch import FetchSettings, HttpFetcher
from app.engine.functions.runner import FunctionStepRunner
from app.engine.functions.services import MockedCalls, MockLog, RealCalls

__all__ = [
    "AsyncCalls",
    "CallOutcome",
    "EventCapture",
    "FetchSettings",
    "FunctionStepRunner",
    "HttpFetcher",
    "IntegrationConfig",
    "IntegrationResolver",
    "MockLog",
    "MockedCalls",
    "RealCalls",
    "RetryPolicy",
    "SendClaim",
    "SendKey",
    "SendLedger",
    "SmtpEmailSender",
    "SmtpSettings",
]
