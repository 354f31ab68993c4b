"""Capture endpoints on the real app (embedded mode: in-process masking and rate-limit stores).

Each test has a tenant of its own, so the project token, flows, persons and metrics are its own.
"""

import base64
import gzip
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlow, HogFlowRun
from app.db.repositories.persons import PersonRepository
from app.db.session import session_scope
from app.services.bootstrap import Tenant
from tests.api.ingest_helpers import create_flow, event_flow, logs, metric_kinds, metric_totals, runs, set_status

PLAN_IS_PRO = [{"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]


def event(name: str = "signed_up", distinct_id: str = "user-1", **properties: Any) -> dict[str, Any]:
    return {"event": name, "distinct_id": distinct_id, "properties": properties}


async def stored_runs(sessionmaker: async_sessionmaker[AsyncSession], flow_id: str) -> list[HogFlowRun]:
    async with session_scope(sessionmaker) as session:
        statement = select(HogFlowRun).where(HogFlowRun.hog_flow_id == uuid.UUID(flow_id))
        return list((await session.execute(statement.order_by(HogFlowRun.created_at))).scalars().all())


async def person_properties(
    sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant, distinct_id: str
) -> dict[str, Any] | None:
    async with session_scope(sessionmaker) as session:
        person = await PersonRepository(session).get_by_distinct_id(tenant.team_id, distinct_id)
        return dict(person.properties) if person else None


# -- payload shapes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/capture/", "/capture", "/batch/", "/batch", "/e/", "/e", "/i/v0/e/", "/i/v0/e"])
async def test_every_capture_path_accepts_a_batch(client: httpx.AsyncClient, tenant: Tenant, path: str) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    body = {"api_key": tenant.project_token, "batch": [event(distinct_id="a"), event(distinct_id="b")]}
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": 1}
    assert len(await runs(client, tenant, flow_id)) == 2


async def test_single_event_with_token_in_properties(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, event_flow(variables=[{"key": "plan", "default": "free"}]))
    sent = {
        "event": "signed_up",
        "uuid": "01890000-0000-7000-8000-000000000001",
        "timestamp": "2024-05-01T10:00:00Z",
        "properties": {"token": tenant.project_token, "distinct_id": "web-1", "$current_url": "https://x.test/a"},
    }
    response = await client.post("/e/", json=sent)
    assert response.status_code == 200, response.text
    [run] = await stored_runs(sessionmaker, flow_id)
    assert run.distinct_id == "web-1"
    assert run.person_id is not None
    assert run.status in ("queued", "running", "completed")
    state_event = run.state["event"]
    assert set(state_event) == {"uuid", "event", "distinct_id", "properties", "elements_chain", "timestamp", "url"}
    assert state_event["uuid"] == sent["uuid"]
    assert state_event["event"] == "signed_up"
    assert state_event["timestamp"] == "2024-05-01T10:00:00.000Z"
    assert state_event["properties"]["$current_url"] == "https://x.test/a"
    assert state_event["url"].endswith(f"/project/{tenant.team_id}/events/{sent['uuid']}/2024-05-01T10%3A00%3A00.000Z")
    assert run.state["variables"] == {"plan": "free"}
    assert run.state["actionStepCount"] == 0


async def test_posthog_js_list_body(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    body = [
        {"event": "signed_up", "properties": {"token": tenant.project_token, "distinct_id": f"u{i}"}} for i in range(3)
    ]
    response = await client.post("/e/?ip=1&_=1700000000000&ver=1.0", json=body)
    assert response.status_code == 200, response.text
    assert len(await runs(client, tenant, flow_id)) == 3


async def test_gzip_content_encoding(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    payload = gzip.compress(json.dumps({"api_key": tenant.project_token, "batch": [event()]}).encode())
    response = await client.post(
        "/batch/", content=payload, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert len(await runs(client, tenant, flow_id)) == 1


async def test_gzip_js_query_parameter(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    body = [{"event": "signed_up", "properties": {"token": tenant.project_token, "distinct_id": "js"}}]
    response = await client.post(
        "/i/v0/e/?compression=gzip-js",
        content=gzip.compress(json.dumps(body).encode()),
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    assert len(await runs(client, tenant, flow_id)) == 1


async def test_base64_form_body_and_get(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    data = base64.b64encode(json.dumps(event(distinct_id="form") | {"api_key": tenant.project_token}).encode())
    response = await client.post(
        "/e/",
        content=b"data=" + data.replace(b"+", b"%2B").replace(b"=", b"%3D"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    response = await client.get("/e/", params={"data": data.decode(), "compression": "base64"})
    assert response.status_code == 200, response.text
    assert len(await runs(client, tenant, flow_id)) == 2


async def test_cors_preflight(client: httpx.AsyncClient) -> None:
    response = await client.options(
        "/e/", headers={"Origin": "https://app.test", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.test"


# -- refusals -------------------------------------------------------------------------------------------


async def test_missing_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/batch/", json={"batch": [event()]})
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "authentication_error"
    assert body["code"] == "missing_api_key"
    assert "API key not provided" in body["detail"]


async def test_unknown_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/capture/", json={"api_key": "phc_nope", **event()})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert response.json()["attr"] is None


@pytest.mark.parametrize(
    ("content", "headers", "code"),
    [
        (b'{"api_key": "x", "batch": [', {"Content-Type": "application/json"}, "invalid_payload"),
        (b'{"api_key": "x", "event": "a", "distinct_id": "d", "properties": {"n": NaN}}', {}, "invalid_payload"),
        (b"", {}, "no_data"),
        (b"\x1f\x8bnot really gzip", {"Content-Encoding": "gzip"}, "invalid_payload"),
        (b"%%% not base64 or json", {}, "invalid_payload"),
        (b'"just a string"', {}, "invalid_payload"),
    ],
)
async def test_malformed_bodies(client: httpx.AsyncClient, content: bytes, headers: dict[str, str], code: str) -> None:
    response = await client.post("/batch/", content=content, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == code
    assert response.json()["type"] == "validation_error"


@pytest.mark.parametrize(
    "bad_event",
    [
        {"distinct_id": "d"},
        {"event": "", "distinct_id": "d"},
        {"event": "x"},
        {"event": "x", "distinct_id": "d", "properties": ["not", "an", "object"]},
        {"event": "x", "distinct_id": "d" * 201},
        "not an object",
    ],
)
async def test_invalid_events(client: httpx.AsyncClient, tenant: Tenant, bad_event: Any) -> None:
    response = await client.post("/batch/", json={"api_key": tenant.project_token, "batch": [bad_event]})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_payload"


async def test_gzip_bomb_is_refused(client: httpx.AsyncClient, tenant: Tenant) -> None:
    padding = " " * (21 * 1024 * 1024)
    payload = gzip.compress(
        json.dumps({"api_key": tenant.project_token, "batch": [event()]}).encode() + padding.encode()
    )
    response = await client.post("/batch/", content=payload, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413


async def test_nul_characters_are_stored_safely(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    sent = event(distinct_id="nul", note="a\u0000b") | {"$set": {"name\u0000": "x"}}
    response = await client.post("/capture/", json={"api_key": tenant.project_token, **sent})
    assert response.status_code == 200, response.text
    assert len(await runs(client, tenant, flow_id)) == 1


# -- filters --------------------------------------------------------------------------------------------


async def test_filters_decide_and_count(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow(["signed_up"], PLAN_IS_PRO))
    batch = [
        event(distinct_id="pro") | {"$set": {"plan": "pro"}},
        event(distinct_id="free") | {"$set": {"plan": "free"}},
        event("$pageview", distinct_id="pro"),  # pre-filtered by the event name
    ]
    response = await client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    assert response.status_code == 200
    started = await runs(client, tenant, flow_id)
    assert [run["distinct_id"] for run in started] == ["pro"]
    totals = await metric_totals(client, tenant, flow_id)
    assert totals["triggered"] == 1
    assert totals["filtered"] == 2
    assert (await metric_kinds(client, tenant, flow_id))["other"] == 3


def hogql(expression: str) -> list[dict[str, Any]]:
    return [{"type": "hogql", "key": expression}]


async def test_filters_that_need_the_vm_decide_in_event_order(client: httpx.AsyncClient, tenant: Tenant) -> None:
    # Lambdas defeat the fast path: these filters run off the event loop, and still decide each event.
    matches = await create_flow(
        client, tenant, event_flow(["signed_up"], hogql("arrayCount(x -> x = properties.n, [1, 2]) > 0"))
    )
    never = await create_flow(client, tenant, event_flow(["signed_up"], hogql("arrayCount(x -> x = 9, [1, 2]) > 0")))
    batch = [event(distinct_id=f"u{n}", n=n % 3) for n in range(6)]
    response = await client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    assert response.status_code == 200, response.text
    started = await runs(client, tenant, matches)
    assert sorted(run["distinct_id"] for run in started) == ["u1", "u2", "u4", "u5"]
    assert (await metric_totals(client, tenant, matches)) == {"triggered": 4, "filtered": 2}
    assert (await metric_totals(client, tenant, never)) == {"filtered": 6}


async def test_one_request_shares_one_vm_budget_across_its_flows(client: httpx.AsyncClient, tenant: Tenant) -> None:
    # Each filter runs into its own 100 ms limit; eight of them would take 0.8 s, past the request's budget.
    slow = hogql("arrayCount(x -> x % 7 = 3, range(200000)) > 0")
    flow_ids = [await create_flow(client, tenant, event_flow(["signed_up"], slow)) for _ in range(8)]
    response = await client.post("/capture/", json={"api_key": tenant.project_token, **event(distinct_id="x")})
    assert response.status_code == 200, response.text
    messages = [entry["message"] for flow_id in flow_ids for entry in await logs(client, tenant, flow_id)]
    assert len(messages) == 8
    assert all(message.startswith("Error filtering event ") for message in messages)
    assert any("the time budget of this request was used up" in message for message in messages), messages
    for flow_id in flow_ids:
        assert (await metric_totals(client, tenant, flow_id)) == {"filtering_failed": 1}


async def test_event_property_and_group_filters(client: httpx.AsyncClient, tenant: Tenant) -> None:
    source_is_ads = [{"key": "source", "type": "event", "value": "ads", "operator": "exact"}]
    flow_id = await create_flow(client, tenant, event_flow(["signed_up"], source_is_ads))
    batch = [event(distinct_id="a", source="ads"), event(distinct_id="b", source="seo")]
    await client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    assert [run["distinct_id"] for run in await runs(client, tenant, flow_id)] == ["a"]


async def test_filter_errors_are_counted_and_logged(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    async with session_scope(sessionmaker) as session:
        flow = await session.get(HogFlow, uuid.UUID(flow_id))
        assert flow is not None
        # Bytecode that fails at runtime: PostHog counts `filtering_failed` and logs the error.
        flow.trigger = {**flow.trigger, "filters": {"properties": [], "bytecode": ["_H", 1, 32, "x", 2, "nope", 1]}}
    sent = event(distinct_id="boom")
    response = await client.post("/capture/", json={"api_key": tenant.project_token, **sent})
    assert response.status_code == 200
    assert await runs(client, tenant, flow_id) == []
    assert (await metric_totals(client, tenant, flow_id)) == {"filtering_failed": 1}
    [entry] = await logs(client, tenant, flow_id)
    assert entry["level"] == "ERROR"
    assert entry["message"].startswith("Error filtering event ")
    assert entry["instance_id"]


async def test_inactive_flows_are_ignored(client: httpx.AsyncClient, tenant: Tenant) -> None:
    draft = await create_flow(client, tenant, event_flow(status="draft"))
    archived = await create_flow(client, tenant, event_flow())
    await set_status(client, tenant, archived, "archived")
    await client.post("/capture/", json={"api_key": tenant.project_token, **event()})
    assert await runs(client, tenant, draft) == []
    assert await runs(client, tenant, archived) == []
    assert await metric_totals(client, tenant, draft) == {}


async def test_a_flow_activated_just_now_triggers(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow(status="draft"))
    await client.post("/capture/", json={"api_key": tenant.project_token, **event()})  # warms the cache
    await set_status(client, tenant, flow_id, "active")
    await client.post("/capture/", json={"api_key": tenant.project_token, **event()})
    assert len(await runs(client, tenant, flow_id)) == 1
    await set_status(client, tenant, flow_id, "draft")
    await client.post("/capture/", json={"api_key": tenant.project_token, **event()})
    assert len(await runs(client, tenant, flow_id)) == 1


async def test_other_teams_flows_are_not_triggered(client: httpx.AsyncClient, tenant: Tenant, make_tenant: Any) -> None:
    other = await make_tenant()
    flow_id = await create_flow(client, other, event_flow())
    await client.post("/capture/", json={"api_key": tenant.project_token, **event()})
    assert await runs(client, other, flow_id) == []


# -- persons --------------------------------------------------------------------------------------------


async def test_set_and_set_once(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    batch = [
        {"event": "$set", "distinct_id": "p1", "$set": {"plan": "free"}, "$set_once": {"first_seen": "monday"}},
        event(distinct_id="p1") | {"properties": {"$set": {"plan": "pro"}, "$set_once": {"first_seen": "tuesday"}}},
    ]
    await client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    assert await person_properties(sessionmaker, tenant, "p1") == {"plan": "pro", "first_seen": "monday"}
    await client.post(
        "/capture/",
        json={
            "api_key": tenant.project_token,
            "event": "$set",
            "distinct_id": "p1",
            "$set_once": {"plan": "x", "y": 1},
        },
    )
    assert await person_properties(sessionmaker, tenant, "p1") == {"plan": "pro", "first_seen": "monday", "y": 1}


async def test_identify_merges_the_anonymous_person(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, event_flow(["signed_up"], PLAN_IS_PRO))
    anonymous = [event("$pageview", distinct_id="anon-1") | {"$set_once": {"referrer": "ads"}}]
    await client.post("/batch/", json={"api_key": tenant.project_token, "batch": anonymous})
    batch = [
        {
            "event": "$identify",
            "distinct_id": "ada@example.com",
            "properties": {"$anon_distinct_id": "anon-1", "$set": {"plan": "pro"}},
        },
        event(distinct_id="anon-1"),  # the anonymous id now points at the identified person
    ]
    await client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    merged = await person_properties(sessionmaker, tenant, "anon-1")
    assert merged == {"referrer": "ads", "plan": "pro"}
    assert await person_properties(sessionmaker, tenant, "ada@example.com") == merged
    [run] = await runs(client, tenant, flow_id)
    assert run["distinct_id"] == "anon-1"


async def test_create_alias(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await client.post(
        "/capture/", json={"api_key": tenant.project_token, **event(distinct_id="old")} | {"$set": {"a": 1}}
    )
    alias = {"event": "$create_alias", "distinct_id": "old", "properties": {"distinct_id": "old", "alias": "new"}}
    await client.post("/capture/", json={"api_key": tenant.project_token, **alias})
    assert await person_properties(sessionmaker, tenant, "new") == {"a": 1}


async def test_personless_events_touch_no_person(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    sent = event(distinct_id="ghost") | {"properties": {"$process_person_profile": False}, "$set": {"plan": "pro"}}
    await client.post("/capture/", json={"api_key": tenant.project_token, **sent})
    assert await person_properties(sessionmaker, tenant, "ghost") is None
    [run] = await runs(client, tenant, flow_id)
    assert run["person_id"] is None


# -- masking and rate limiting --------------------------------------------------------------------------


async def test_masking_once_per_person(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow(masking={"hash": "{person.id}", "ttl": 3600}))
    batch = [event(distinct_id="m1"), event(distinct_id="m1"), event(distinct_id="m2")]
    await client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    await client.post("/capture/", json={"api_key": tenant.project_token, **event(distinct_id="m1")})
    assert sorted(run["distinct_id"] for run in await runs(client, tenant, flow_id)) == ["m1", "m2"]
    totals = await metric_totals(client, tenant, flow_id)
    assert totals["masked"] == 2
    assert totals["triggered"] == 2


async def test_masking_threshold(client: httpx.AsyncClient, tenant: Tenant) -> None:
    masking = {"hash": "{event.distinct_id}", "ttl": 3600, "threshold": 3}
    flow_id = await create_flow(client, tenant, event_flow(masking=masking))
    # Hits 1, 4 and 7 pass: two in the first batch, one in the second.
    await client.post("/batch/", json={"api_key": tenant.project_token, "batch": [event(distinct_id="t")] * 5})
    await client.post("/batch/", json={"api_key": tenant.project_token, "batch": [event(distinct_id="t")] * 2})
    totals = await metric_totals(client, tenant, flow_id)
    assert totals == {"triggered": 3, "masked": 4}


async def test_masking_hash_that_is_empty_never_masks(client: httpx.AsyncClient, tenant: Tenant) -> None:
    masking = {"hash": "{event.properties.missing}", "ttl": 3600}
    flow_id = await create_flow(client, tenant, event_flow(masking=masking))
    await client.post("/batch/", json={"api_key": tenant.project_token, "batch": [event()] * 3})
    assert (await metric_totals(client, tenant, flow_id)) == {"triggered": 3}


async def test_rate_limit_drops_after_the_bucket_is_empty(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    batch = [event(distinct_id=f"r{i}") for i in range(103)]
    response = await client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    assert response.status_code == 200
    totals = await metric_totals(client, tenant, flow_id)
    assert totals["triggered"] == 100
    assert totals["rate_limited"] == 3
    assert (await metric_kinds(client, tenant, flow_id))["failure"] >= 3
    warnings = await logs(client, tenant, flow_id, level="WARN")
    assert len(warnings) == 3
    assert all(
        w["message"].startswith("Workflow invocation dropped due to rate limiting for [Person:") for w in warnings
    )
    assert all("[Event:" in w["message"] for w in warnings)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


@pytest.mark.parametrize(
    "content",
    [
        # Nested far deeper than any event.
        json.dumps({"event": "e", "distinct_id": "d", "properties": {"deep": _nested(500)}}).encode(),
        # 1e400 parses as infinity, which JSONB cannot store.
        b'{"event": "e", "distinct_id": "d", "properties": {"big": 1e400}}',
        # More digits than Python converts.
        b'{"event": "e", "distinct_id": "d", "properties": {"huge": ' + b"9" * 5000 + b"}}",
    ],
)
async def test_hostile_values_are_refused_not_crashed_on(
    client: httpx.AsyncClient, tenant: Tenant, content: bytes
) -> None:
    raw = content[:-1] + f', "api_key": "{tenant.project_token}"}}'.encode()
    response = await client.post("/capture/", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_payload"


async def test_odd_but_storable_values_are_accepted(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    raw = (
        b'{"api_key": "' + tenant.project_token.encode() + b'", "event": "signed_up", "distinct_id": "s\\ud800",'
        b' "timestamp": "0001-01-01T00:00:00Z", "sent_at": "9999-12-31T23:59:59Z",'
        b' "properties": {"lone": "\\udfff", "nul": "\\u0000", "\\u0000key": 1}}'
    )
    response = await client.post("/capture/", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    [run] = await runs(client, tenant, flow_id)
    assert run["distinct_id"] == "s\ufffd"
