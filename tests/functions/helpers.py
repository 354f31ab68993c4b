"""Building function actions the way the API stores them, and runners wired to real local services."""

from typing import Any

from app.crypto import SecretBox
from app.engine.functions import (
    FetchSettings,
    FunctionStepRunner,
    HttpFetcher,
    RealCalls,
    SmtpEmailSender,
    SmtpSettings,
)
from app.engine.functions.calls import IntegrationResolver, SendLedger
from app.engine.templates import get_template
from app.services.input_validation import validate_inputs
from tests.engine.flows import action


def function_action(
    action_id: str,
    template_id: str,
    inputs: dict[str, Any],
    action_type: str = "function",
    templating: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A function action whose inputs went through the same validation and compilation as a saved flow's."""
    template = get_template(template_id)
    assert template is not None, template_id
    raw = {key: {"value": value, **({"templating": templating} if templating else {})} for key, value in inputs.items()}
    compiled = validate_inputs(template.inputs_schema, raw)
    return action(action_id, action_type, {"template_id": template_id, "inputs": compiled}, **extra)


def real_runner(
    *,
    allow_private: bool = True,
    url_overrides: dict[str, str] | None = None,
    max_response_bytes: int = 1024 * 1024,
    smtp_port: int | None = None,
    integrations: IntegrationResolver | None = None,
    ledger: SendLedger | None = None,
    **options: Any,
) -> FunctionStepRunner:
    fetcher = HttpFetcher(
        FetchSettings(
            allow_private=allow_private,
            url_overrides=url_overrides or {},
            max_response_bytes=max_response_bytes,
            timeout_s=5,
        )
    )
    smtp = SmtpSettings(
        host="127.0.0.1" if smtp_port else None, port=smtp_port or 25, tls="none", default_from="flows@example.com"
    )
    return FunctionStepRunner(
        calls=RealCalls(fetcher=fetcher, email=SmtpEmailSender(smtp)),
        integrations=integrations,
        ledger=ledger,
        box=SecretBox(["function-tests"]),
        **options,
    )


def action_logs(outcome: Any, action_id: str) -> list[str]:
    prefix = f"[Action:{action_id}] "
    return [log.message[len(prefix) :] for log in outcome.logs if log.message.startswith(prefix)]
