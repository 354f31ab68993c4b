"""Test invocations of function steps: mocked async functions by default, real requests on request."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.models import HogFlowSend
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.functions.servers import LocalHttpServer, LocalSmtpServer, Reply

EVENT = {
    "uuid": "e-1",
    "event": "signed_up",
    "distinct_id": "u1",
    "timestamp": "2025-01-01T00:00:00Z",
    "properties": {},
}
PERSON = {"id": "p-1", "properties": {"email": "ada@example.com", "name": "Ada"}}


def flow(step: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "functions",
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
            step,
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": step["id"], "type": "continue"},
            {"from": step["id"], "to": "done", "type": "continue"},
        ],
    }


def webhook_step(url: str) -> dict[str, Any]:
    inputs = {"url": {"value": url}, "body": {"value": {"who": "{person.properties.email}"}}}
    return {
        "id": "hook",
        "name": "hook",
        "type": "function",
        "config": {"template_id": "template-webhook", "inputs": inputs},
    }


@pytest.fixture
def server() -> Iterator[LocalHttpServer]:
    local = LocalHttpServer()
    local.start()
    yield local
    local.stop()


UseSettings = Callable[..., None]


@pytest.fixture
def use_settings(app: Any) -> Iterator[UseSettings]:
    """Test invocations read the app's settings: change some fields for one test, then restore them."""
    original: Settings = app.state.settings

    def use(**changes: Any) -> None:
        app.state.settings = original.model_copy(update=changes)

    yield use
    app.state.settings = original


@pytest.fixture
def real_sending(use_settings: UseSettings) -> None:
    """Allow the local server."""
    use_settings(allow_private_fetch=True)


async def invoke(client: httpx.AsyncClient, tenant: Tenant, body: Any) -> dict[str, Any]:
    response = await client.post(f"{flows_url(tenant)}new/invocations/", json=body, headers=auth(tenant))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def send_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with session_scope(sessionmaker) as session:
        return int(await session.scalar(select(func.count()).select_from(HogFlowSend)) or 0)


async def test_mocked_fetch_is_logged_and_nothing_is_sent(
    client: httpx.AsyncClient, tenant: Tenant, server: LocalHttpServer
) -> None:
    body = await invoke(
        client,
        tenant,
        {"configuration": flow(webhook_step(server.url("/hook"))), "globals": {"event": EVENT, "person": PERSON}},
    )
    assert body["status"] == "success", body
    assert body["nextActionId"] == "done"
    assert server.requests == []
    messages = [log["message"] for log in body["logs"]]
    # The step's own logs come first, the mocked calls last (PostHog's order).
    assert messages[-2] == "Async function 'fetch' was mocked with arguments:"
    # Omitted `headers` and `method` take the template's defaults.
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    options = {"headers": headers, "body": {"who": "ada@example.com"}, "method": "POST"}
    assert messages[-1] == f"fetch('{server.url('/hook')}', {json.dumps(options, indent=2)})"
    assert "Executing action [Action:hook]" in messages
    assert "Workflow moved to action [Action:done]" in messages
    assert body["execResult"] == {"status": 200, "body": {}}


async def test_mocked_email_is_not_sent(client: httpx.AsyncClient, tenant: Tenant) -> None:
    email = {
        "to": {"email": "{person.properties.email}", "name": ""},
        "from": {"email": "a@acme.test", "name": ""},
        "subject": "Hi",
        "text": "Hello {person.properties.name}",
    }
    step = {
        "id": "mail",
        "name": "mail",
        "type": "function_email",
        "config": {"template_id": "template-email", "inputs": {"email": {"value": email}}},
    }
    body = await invoke(client, tenant, {"configuration": flow(step), "globals": {"event": EVENT, "person": PERSON}})
    assert body["status"] == "success", body
    messages = [log["message"] for log in body["logs"]]
    assert messages[-2] == "Async function 'sendEmail' was mocked with arguments:"
    assert json.loads(messages[-1].removeprefix("sendEmail(").removesuffix(")"))["text"] == "Hello Ada"


@pytest.mark.usefixtures("real_sending")
async def test_unmocked_fetch_really_sends_without_send_records(
    client: httpx.AsyncClient,
    tenant: Tenant,
    server: LocalHttpServer,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    server.script("/hook", Reply(200, {"thanks": True}))
    before = await send_rows(sessionmaker)
    body = await invoke(
        client,
        tenant,
        {
            "configuration": flow(webhook_step(server.url("/hook"))),
            "globals": {"event": EVENT, "person": PERSON},
            "mock_async_functions": False,
        },
    )
    assert body["status"] == "success", body
    [request] = server.requests
    assert request.json() == {"who": "ada@example.com"}
    assert body["execResult"] == {"status": 200, "body": {"thanks": True}}
    assert not any("mocked" in log["message"] for log in body["logs"])
    assert await send_rows(sessionmaker) == before


async def test_unmocked_fetch_to_a_private_address_is_refused_by_default(
    client: httpx.AsyncClient, tenant: Tenant, server: LocalHttpServer, use_settings: UseSettings
) -> None:
    default = Settings.model_fields["allow_private_fetch"].default
    assert default is False
    use_settings(allow_private_fetch=default)
    body = await invoke(
        client,
        tenant,
        {
            "configuration": flow(webhook_step(server.url("/hook"))),
            "globals": {"event": EVENT, "person": PERSON},
            "mock_async_functions": False,
        },
    )
    assert body["status"] == "error"
    assert body["errors"][0].startswith("Webhook failed with status 500: FetchBlockedError: Refusing to connect")
    assert server.requests == []


@pytest.mark.usefixtures("real_sending")
async def test_unmocked_email_is_really_sent(
    client: httpx.AsyncClient, tenant: Tenant, use_settings: UseSettings
) -> None:
    smtp = LocalSmtpServer()
    smtp.start()
    try:
        use_settings(allow_private_fetch=True, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_tls="none")
        email = {
            "to": {"email": "ada@example.com"},
            "from": {"email": "a@acme.test"},
            "subject": "Hi",
            "html": "<b>x</b>",
        }
        step = {
            "id": "mail",
            "name": "mail",
            "type": "function_email",
            "config": {"template_id": "template-email", "inputs": {"email": {"value": email}}},
        }
        body = await invoke(
            client,
            tenant,
            {"configuration": flow(step), "globals": {"event": EVENT, "person": PERSON}, "mock_async_functions": False},
        )
        assert body["status"] == "success", body
        [(envelope, message)] = smtp.messages
        assert envelope.rcpt_tos == ["ada@example.com"]
        assert message["Subject"] == "Hi"
    finally:
        smtp.stop()
