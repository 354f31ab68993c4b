"""Public webhook triggers (`/public/webhooks/{flow_id}`) on the real app, embedded mode."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlowRun
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import create_flow, logs, metric_kinds, metric_totals, runs, set_status, webhook_flow
from tests.polling import wait_for


def url(flow_id: str) -> str:
    return f"/public/webhooks/{flow_id}"


async def only_run(sessionmaker: async_sessionmaker[AsyncSession], flow_id: str) -> HogFlowRun:
    async with session_scope(sessionmaker) as session:
        statement = select(HogFlowRun).where(HogFlowRun.hog_flow_id == uuid.UUID(flow_id))
        [run] = (await session.execute(statement)).scalars().all()
        return run


async def test_webhook_starts_a_run_with_the_request(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    inputs = {
        "event": {"value": "{request.body.type}"},
        "distinct_id": {"value": "{request.body.user.id}"},
        "properties": {"value": {"amount": "{request.body.amount}", "agent": "{request.headers['user-agent']}"}},
    }
    flow_id = await create_flow(client, tenant, webhook_flow(inputs))
    body = {"type": "payment", "user": {"id": "cus_1"}, "amount": 42, "$variables": {"plan": "pro"}}
    response = await client.post(
        url(flow_id) + "?src=stripe", json=body, headers={"User-Agent": "stripe/1", "Cookie": "secret=1"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}
    run = await only_run(sessionmaker, flow_id)
    assert run.distinct_id == "cus_1"
    event = run.state["event"]
    assert event["event"] == "payment"
    assert event["properties"]["amount"] == 42
    assert event["properties"]["agent"] == "stripe/1"
    assert event["properties"]["$request_body"] == body
    assert run.state["variables"] == {"plan": "pro"}
    request = run.state["request"]
    assert request["method"] == "POST"
    assert request["query"] == {"src": "stripe"}
    assert request["body"] == body
    assert "cookie" not in request["headers"]
    totals = await metric_totals(client, tenant, flow_id)
    assert totals["triggered"] == 1
    assert totals["billable_invocation"] == 1
    assert (await metric_kinds(client, tenant, flow_id))["billing"] == 1

    async def completed() -> bool:
        return bool((await runs(client, tenant, flow_id))[0]["status"] == "completed")

    await wait_for(completed, within=20)


async def test_default_inputs_read_event_and_distinct_id_from_the_body(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow())
    response = await client.post(url(flow_id) + "/", json={"event": "hello", "distinct_id": "d1"})
    assert response.status_code == 200, response.text
    run = await only_run(sessionmaker, flow_id)
    assert run.state["event"]["event"] == "hello"
    assert run.state["event"]["properties"]["$lib"] == "posthog-webhook"
    assert run.state["variables"] == {"plan": "free"}


async def test_wrong_method(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({"method": {"value": "PUT"}}))
    response = await client.post(url(flow_id), json={"event": "e", "distinct_id": "d"})
    assert response.status_code == 405
    assert response.text == "Method not allowed"
    assert (await client.put(url(flow_id), json={"event": "e", "distinct_id": "d"})).status_code == 200
    assert len(await runs(client, tenant, flow_id)) == 1


async def test_auth_header(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow({"auth_header": {"value": "Bearer s3cret"}}))
    body = {"event": "e", "distinct_id": "d"}
    missing = await client.post(url(flow_id), json=body)
    assert missing.status_code == 401
    assert missing.text == "Unauthorized"
    wrong = await client.post(url(flow_id), json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = await client.post(url(flow_id), json=body, headers={"Authorization": "Bearer s3cret"})
    assert right.status_code == 200
    assert len(await runs(client, tenant, flow_id)) == 1


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({"distinct_id": "d"}, "event"),
        ({"event": "e"}, "distinct_id"),
        ({"event": "e", "distinct_id": ""}, "distinct_id"),
    ],
)
async def test_missing_event_or_distinct_id(
    client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any], missing: str
) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow())
    response = await client.post(url(flow_id), json=body)
    assert response.status_code == 400
    assert response.json() == {"error": f'"{missing}" could not be parsed correctly'}
    assert await runs(client, tenant, flow_id) == []


async def test_unknown_draft_and_event_flows_are_not_found(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"event": "e", "distinct_id": "d"}
    draft = await create_flow(client, tenant, webhook_flow(status="draft"))
    response = await client.post(url(draft), json=body)
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}
    await set_status(client, tenant, draft, "active")
    assert (await client.post(url(draft), json=body)).status_code == 200
    await set_status(client, tenant, draft, "archived")
    assert (await client.post(url(draft), json=body)).status_code == 404
    assert (await client.post(url(str(uuid.uuid4())), json=body)).status_code == 404
    assert (await client.post(url("not-a-uuid"), json=body)).status_code == 404
    event_flow = {
        "name": "event",
        "status": "active",
        "actions": [
            {"id": "t", "name": "t", "type": "trigger", "config": {"type": "event", "filters": {"events": []}}},
            {"id": "x", "name": "x", "type": "exit", "config": {}},
        ],
        "edges": [{"from": "t", "to": "x", "type": "continue"}],
    }
    response = await client.post(flows_url(tenant), json=event_flow, headers=auth(tenant))
    assert response.status_code == 201, response.text
    assert (await client.post(url(response.json()["id"]), json=body)).status_code == 404


async def test_invalid_json_body(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow())
    response = await client.post(url(flow_id), content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "error" in response.json()


async def test_form_body(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow())
    response = await client.post(url(flow_id), data={"event": "form", "distinct_id": "f1"})
    assert response.status_code == 200, response.text
    assert [run["distinct_id"] for run in await runs(client, tenant, flow_id)] == ["f1"]


async def test_manual_trigger(client: httpx.AsyncClient, tenant: Tenant) -> None:
    inputs = {
        "event": {"value": "$workflow_triggered"},
        "distinct_id": {"value": "{request.body.user_id}"},
        "method": {"value": "POST"},
    }
    flow_id = await create_flow(client, tenant, webhook_flow(inputs, kind="manual"))
    response = await client.post(url(flow_id), json={"user_id": "u9", "$variables": {"plan": "team"}})
    assert response.status_code == 200, response.text
    assert [run["distinct_id"] for run in await runs(client, tenant, flow_id)] == ["u9"]


async def test_tracking_pixel(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow(kind="tracking_pixel"))
    response = await client.get(url(flow_id), params={"ph_event": "email_opened", "ph_distinct_id": "p1"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    nothing = await client.get(url(flow_id), params={"ph_event": "email_opened"})
    assert nothing.status_code == 200
    assert nothing.headers["content-type"] == "image/gif"
    assert [run["distinct_id"] for run in await runs(client, tenant, flow_id)] == ["p1"]


async def test_an_input_that_fails_is_reported(client: httpx.AsyncClient, tenant: Tenant) -> None:
    inputs = {"distinct_id": {"value": "{request.body.id}"}, "event": {"value": "{jsonParse(request.body.id)}"}}
    flow_id = await create_flow(client, tenant, webhook_flow(inputs))
    response = await client.post(url(flow_id), json={"id": "not json"})
    assert response.status_code == 400
    assert (await metric_totals(client, tenant, flow_id)) == {"trigger_failed": 1}
    [entry] = await logs(client, tenant, flow_id)
    assert entry["level"] == "ERROR"
    assert entry["message"].startswith("[Action:trigger] Error triggering flow: ")


async def test_hostile_requests(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, webhook_flow())
    too_long = await client.post(url(flow_id), json={"event": "e", "distinct_id": "d" * 500})
    assert too_long.status_code == 400
    assert "at most" in too_long.json()["error"]
    infinite = await client.post(
        url(flow_id),
        content=b'{"event": "e", "distinct_id": "d", "x": 1e400}',
        headers={"Content-Type": "application/json"},
    )
    assert infinite.status_code == 400
    odd = await client.post(
        url(flow_id) + "?q=%00",
        content=b'{"event": "e", "distinct_id": "d\\u0000", "y": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert odd.status_code == 200, odd.text
    assert [run["distinct_id"] for run in await runs(client, tenant, flow_id)] == ["d\ufffd"]
