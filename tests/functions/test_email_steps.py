"""Email function steps over SMTP to a real local server (aiosmtpd)."""

from typing import Any

from app.engine.executor import execute_pickup
from tests.engine.flows import Options, action, chain, flow, invocation, metric_names
from tests.functions.helpers import action_logs, function_action, real_runner
from tests.functions.servers import LocalSmtpServer
from tests.serving import free_port

PERSON = {"id": "p-1", "properties": {"email": "ada@example.com", "name": "Ada"}, "distinct_id": "d-1"}


def email_flow(email: dict[str, Any], templating: str | None = None, **extra: Any) -> Any:
    step = function_action(
        "mail", "template-email", {"email": email}, action_type="function_email", templating=templating, **extra
    )
    return flow([step, action("done", "exit")], chain("trigger", "mail", "done"))


EMAIL = {
    "to": {"email": "{person.properties.email}", "name": "{person.properties.name}"},
    "from": {"email": "hello@acme.test", "name": "Acme"},
    "subject": "Welcome, {person.properties.name}",
    "text": "Hello {person.properties.name}, you triggered {event.event}",
    "html": "<p>Hello <b>{person.properties.name}</b></p>",
}


async def test_email_is_sent_with_subject_recipient_text_and_html(smtp_server: LocalSmtpServer) -> None:
    runner = real_runner(smtp_port=smtp_server.port)
    outcome = await execute_pickup(invocation(email_flow(EMAIL), PERSON), Options().build(run_function=runner))

    assert outcome.status == "completed", outcome.error
    [(envelope, message)] = smtp_server.messages
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert message["To"] == "Ada <ada@example.com>"
    assert message["From"] == "Acme <hello@acme.test>"
    assert message["Subject"] == "Welcome, Ada"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and text.get_content().strip() == "Hello Ada, you triggered $pageview"
    assert html is not None and html.get_content().strip() == "<p>Hello <b>Ada</b></p>"
    assert "Email sent to Ada <ada@example.com> from Acme <hello@acme.test>" in action_logs(outcome, "mail")
    assert ("email", "billable_invocation", "mail") in metric_names(outcome)
    assert ("email", "email_sent", "mail") in metric_names(outcome)


async def test_liquid_inputs_and_the_default_sender(smtp_server: LocalSmtpServer) -> None:
    email = {
        "to": {"email": "{{ person.properties.email }}", "name": ""},
        "from": {"email": "", "name": ""},
        "subject": "Hi {{ person.properties.name | upcase }}",
        "text": "Plan: {{ person.properties.plan | default: 'free' }}",
        "cc": [{"email": "team@acme.test"}],
    }
    runner = real_runner(smtp_port=smtp_server.port)
    outcome = await execute_pickup(
        invocation(email_flow(email, "liquid"), PERSON), Options().build(run_function=runner)
    )

    assert outcome.status == "completed", outcome.error
    [(envelope, message)] = smtp_server.messages
    assert sorted(envelope.rcpt_tos) == ["ada@example.com", "team@acme.test"]
    assert message["From"] == "flows@example.com"
    assert message["Subject"] == "Hi ADA"
    assert message.get_content().strip() == "Plan: free"


async def test_without_smtp_configured_the_step_fails_clearly() -> None:
    outcome = await execute_pickup(invocation(email_flow(EMAIL), PERSON), Options().build(run_function=real_runner()))
    assert outcome.status == "failed"
    assert outcome.error == "Email failed to send: Email is not configured: set HOGFLOWS_SMTP_HOST"
    assert ("email", "email_failed", "mail") in metric_names(outcome)
    assert "Sending the email failed on attempt 1. Error: Email is not configured: set HOGFLOWS_SMTP_HOST." in (
        action_logs(outcome, "mail")
    )


async def test_an_unreachable_smtp_server_is_retried() -> None:
    port = free_port()  # nothing listens there
    outcome = await execute_pickup(
        invocation(email_flow(EMAIL), PERSON), Options(draws=[0.0]).build(run_function=real_runner(smtp_port=port))
    )
    assert outcome.status == "waiting"
    assert any(line.endswith("Retrying.") for line in action_logs(outcome, "mail"))


async def test_a_liquid_template_that_would_hang_the_lexer_fails_the_step_clearly(smtp_server: LocalSmtpServer) -> None:
    email = {**EMAIL, "subject": "{{" * 16_000, "text": "{% if 1 &lt; 2 %}logic works{% endif %}"}
    runner = real_runner(smtp_port=smtp_server.port)
    options = Options().build(run_function=runner)
    outcome = await execute_pickup(invocation(email_flow(email, "liquid"), PERSON), options)

    assert outcome.status == "failed"
    assert outcome.error is not None and 'email: Liquid output "{{" not closed (line 1, column 1)' in outcome.error
    assert smtp_server.messages == []
