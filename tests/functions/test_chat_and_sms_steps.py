"""Slack and Twilio (through integrations) and Discord and Teams (webhook URLs) against local fakes of their APIs.

The real API hosts are sent to the local server by URL overrides (`HOGFLOWS_FETCH_URL_OVERRIDES`).
"""

import base64
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.engine.executor import execute_pickup
from app.engine.functions import FunctionStepRunner
from app.services.bootstrap import Tenant
from app.worker.function_steps import DatabaseIntegrations
from tests.engine.flows import Options, action, chain, flow, invocation
from tests.functions.db_helpers import app_secret_box, store_integration
from tests.functions.helpers import function_action, real_runner
from tests.functions.servers import LocalHttpServer, Reply

Sessionmaker = async_sessionmaker[AsyncSession]
PERSON = {"id": "p-1", "properties": {"email": "ada@example.com", "phone": "+15550002222"}, "distinct_id": "d-1"}
SLACK_PATH = "/api/chat.postMessage"
DISCORD_URL = "https://discord.com/api/webhooks/123/abc"
TEAMS_URL = "https://acme.webhook.office.com/webhookb2/xyz"


def runner(server: LocalHttpServer, sessionmaker: Sessionmaker | None = None) -> FunctionStepRunner:
    hosts = ("slack.com", "api.twilio.com", "discord.com", "acme.webhook.office.com")
    return real_runner(
        url_overrides=dict.fromkeys(hosts, server.base_url),
        integrations=DatabaseIntegrations(sessionmaker, app_secret_box()) if sessionmaker else None,
    )


def one_step(step: dict[str, Any], team_id: int = 1) -> Any:
    return flow([step, action("done", "exit")], chain("trigger", step["id"], "done"), team_id=team_id)


async def slack_workspace(sessionmaker: Sessionmaker, team_id: int) -> int:
    config = {"team": {"id": "T1", "name": "Acme"}}
    return await store_integration(sessionmaker, team_id, "slack", config, {"access_token": "xoxb-secret-token"})


async def test_slack_posts_the_message_with_the_integration_token(
    http_server: LocalHttpServer, sessionmaker: Sessionmaker, tenant: Tenant
) -> None:
    http_server.script(SLACK_PATH, Reply(200, {"ok": True, "channel": "C1", "ts": "1700000000.1"}))
    workspace = await slack_workspace(sessionmaker, tenant.team_id)
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 4000}},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 100}}]},
        *[{"type": "divider"} for _ in range(60)],
    ]
    step = function_action(
        "slack",
        "template-slack",
        {
            "slack_workspace": workspace,
            "channel": "C1",
            "text": "*{person.properties.email}* did {event.event}",
            "blocks": blocks,
            "username": "Flows",
            "icon_emoji": ":robot_face:",
        },
        output_variable={"key": "ts", "result_path": "ts"},
    )
    outcome = await execute_pickup(
        invocation(one_step(step, tenant.team_id), PERSON),
        Options().build(run_function=runner(http_server, sessionmaker)),
    )

    assert outcome.status == "completed", outcome.error
    [request] = http_server.requests_to(SLACK_PATH)
    assert request.method == "POST"
    assert request.headers["authorization"] == "Bearer xoxb-secret-token"
    body = request.json()
    assert body["channel"] == "C1"
    assert body["text"] == "*ada@example.com* did $pageview"
    assert (body["username"], body["icon_emoji"]) == ("Flows", ":robot_face:")
    assert "thread_ts" not in body
    assert len(body["blocks"]) == 50
    assert len(body["blocks"][0]["text"]["text"]) == 3000
    assert body["blocks"][0]["text"]["text"].endswith("...")
    assert len(body["blocks"][1]["elements"][0]["text"]["text"]) == 75
    assert outcome.state["variables"] == {"ts": "1700000000.1"}


async def test_a_slack_error_fails_the_step_and_the_token_is_redacted(
    http_server: LocalHttpServer, sessionmaker: Sessionmaker, tenant: Tenant
) -> None:
    http_server.script(SLACK_PATH, Reply(200, {"ok": False, "error": "invalid_auth for xoxb-secret-token"}))
    workspace = await slack_workspace(sessionmaker, tenant.team_id)
    step = function_action("slack", "template-slack", {"slack_workspace": workspace, "channel": "C1", "text": "hi"})
    outcome = await execute_pickup(
        invocation(one_step(step, tenant.team_id), PERSON),
        Options().build(run_function=runner(http_server, sessionmaker)),
    )
    assert outcome.status == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("Failed to post message to Slack: 200: ")
    assert "xoxb-secret-token" not in outcome.error and "***REDACTED***" in outcome.error
    assert all("xoxb-secret-token" not in log.message for log in outcome.logs)


async def test_another_teams_integration_resolves_to_nothing(
    http_server: LocalHttpServer, sessionmaker: Sessionmaker, tenant: Tenant, make_tenant: Any
) -> None:
    other = await make_tenant(email="other-slack@example.com")
    workspace = await slack_workspace(sessionmaker, other.team_id)
    step = function_action("slack", "template-slack", {"slack_workspace": workspace, "channel": "C1", "text": "hi"})
    outcome = await execute_pickup(
        invocation(one_step(step, tenant.team_id), PERSON),
        Options().build(run_function=runner(http_server, sessionmaker)),
    )
    assert outcome.status == "failed"
    assert outcome.error == "The Slack integration is missing or has no access token"
    assert http_server.requests == []


async def test_twilio_sends_a_form_encoded_sms_with_basic_auth(
    http_server: LocalHttpServer, sessionmaker: Sessionmaker, tenant: Tenant
) -> None:
    path = "/2010-04-01/Accounts/AC123/Messages.json"
    http_server.script(path, Reply(201, {"sid": "SM1", "status": "queued"}))
    account = await store_integration(
        sessionmaker, tenant.team_id, "twilio", {"account_sid": "AC123"}, {"auth_token": "twilio-token"}
    )
    step = function_action(
        "sms",
        "template-twilio",
        {
            "twilio_account": account,
            "from_number": "+15550001111",
            "to_number": "{person.properties.phone}",
            "message": "Hi {person.properties.email} & welcome",
        },
        action_type="function_sms",
        output_variable={"key": "sms", "result_path": "sid"},
    )
    outcome = await execute_pickup(
        invocation(one_step(step, tenant.team_id), PERSON),
        Options().build(run_function=runner(http_server, sessionmaker)),
    )

    assert outcome.status == "completed", outcome.error
    [request] = http_server.requests_to(path)
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:twilio-token").decode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form() == {"To": "+15550002222", "From": "+15550001111", "Body": "Hi ada@example.com & welcome"}
    assert outcome.state["variables"] == {"sms": "SM1"}
    assert ("fetch", "billable_invocation", "sms") in [
        (m.metric_kind, m.metric_name, m.instance_id) for m in outcome.metrics
    ]


async def test_twilio_errors_fail_the_step(
    http_server: LocalHttpServer, sessionmaker: Sessionmaker, tenant: Tenant
) -> None:
    path = "/2010-04-01/Accounts/AC123/Messages.json"
    http_server.script(path, Reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"}))
    account = await store_integration(
        sessionmaker, tenant.team_id, "twilio", {"account_sid": "AC123"}, {"auth_token": "twilio-token"}
    )
    step = function_action(
        "sms",
        "template-twilio",
        {"twilio_account": account, "from_number": "+1555", "to_number": "nope", "message": "hi"},
        action_type="function_sms",
    )
    outcome = await execute_pickup(
        invocation(one_step(step, tenant.team_id), PERSON),
        Options().build(run_function=runner(http_server, sessionmaker)),
    )
    assert outcome.status == "failed"
    assert outcome.error == "Failed to send the SMS with Twilio: 400: Invalid 'To' Phone Number"


async def test_discord_posts_content_to_the_webhook(http_server: LocalHttpServer) -> None:
    http_server.script("/api/webhooks/123/abc", Reply(204, ""))
    step = function_action("discord", "template-discord", {"webhookUrl": DISCORD_URL, "content": "{event.event}!"})
    outcome = await execute_pickup(
        invocation(one_step(step), PERSON), Options().build(run_function=runner(http_server))
    )
    assert outcome.status == "completed", outcome.error
    [request] = http_server.requests
    assert request.path == "/api/webhooks/123/abc"
    assert request.json() == {"content": "$pageview!"}


async def test_discord_refuses_other_urls(http_server: LocalHttpServer) -> None:
    step = function_action("discord", "template-discord", {"webhookUrl": http_server.url("/x"), "content": "hi"})
    outcome = await execute_pickup(
        invocation(one_step(step), PERSON), Options().build(run_function=runner(http_server))
    )
    assert outcome.status == "failed"
    assert outcome.error == "Invalid Discord webhook URL: it must start with https://discord.com/api/webhooks/"
    assert http_server.requests == []


async def test_microsoft_teams_posts_an_adaptive_card(http_server: LocalHttpServer) -> None:
    http_server.script("/webhookb2/xyz", Reply(202, ""))
    step = function_action("teams", "template-microsoft-teams", {"webhookUrl": TEAMS_URL, "text": "**{event.event}**"})
    outcome = await execute_pickup(
        invocation(one_step(step), PERSON), Options().build(run_function=runner(http_server))
    )
    assert outcome.status == "completed", outcome.error
    [request] = http_server.requests
    body = request.json()
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["body"] == [{"type": "TextBlock", "text": "**$pageview**", "wrap": True}]


async def test_microsoft_teams_refuses_other_urls(http_server: LocalHttpServer) -> None:
    step = function_action("teams", "template-microsoft-teams", {"webhookUrl": "https://evil.example.com/x"})
    outcome = await execute_pickup(
        invocation(one_step(step), PERSON), Options().build(run_function=runner(http_server))
    )
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith("Invalid Microsoft Teams webhook URL")
