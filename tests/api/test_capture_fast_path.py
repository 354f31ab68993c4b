"""`CaptureFastPath` (app/api/capture.py) answers a capture POST exactly as the FastAPI route does.

Both are served here on their own, whatever app/main.py installs, each in front of the real app (its
state, database and exception handlers): the same requests get the same status, body and headers.
"""

import gzip
import json
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.capture import CaptureFastPath, capture
from app.services.bootstrap import Tenant
from tests.api.ingest_helpers import create_flow, event_flow, runs


def by_route(app: Any) -> ASGIApp:
    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app
        response = await capture(Request(scope, receive))
        await response(scope, receive, send)

    return serve


def by_fast_path(app: Any) -> ASGIApp:
    async def not_reached(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError(f"{scope['method']} {scope['path']} was not served by the fast path")

    fast_path = CaptureFastPath(not_reached)

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app
        await fast_path(scope, receive, send)

    return serve


def shape(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    kept = ("content-type", "content-length", "access-control-allow-origin", "access-control-allow-credentials", "vary")
    return response.status_code, response.content, {name: response.headers.get(name, "") for name in kept}


async def post_both(app: Any, path: str, **request: Any) -> tuple[httpx.Response, httpx.Response]:
    answers = []
    for serve in (by_route(app), by_fast_path(app)):
        transport = httpx.ASGITransport(app=serve)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            answers.append(await client.post(path, **request))
    return answers[0], answers[1]


def one_event(tenant: Tenant, distinct_id: str) -> dict[str, Any]:
    return {"api_key": tenant.project_token, "event": "signed_up", "distinct_id": distinct_id, "properties": {}}


@pytest.mark.parametrize("origin", [None, "https://app.example.com"])
async def test_accepted_events_answer_alike_and_both_start_runs(
    app: Any, client: httpx.AsyncClient, tenant: Tenant, origin: str | None
) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    headers = {"Origin": origin} if origin else {}
    route, fast = await post_both(app, "/capture/", json=one_event(tenant, "a"), headers=headers)
    assert shape(route) == shape(fast)
    assert fast.status_code == 200 and fast.json() == {"status": 1}
    assert len(await runs(client, tenant, flow_id)) == 2


async def test_gzip_batches_and_query_tokens_answer_alike(app: Any, client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    batch = [{"event": "signed_up", "distinct_id": "g", "properties": {}}]
    body = gzip.compress(json.dumps(batch).encode())
    route, fast = await post_both(
        app,
        f"/batch?compression=gzip-js&token={tenant.project_token}",
        content=body,
        headers={"Content-Type": "text/plain"},
    )
    assert shape(route) == shape(fast) and fast.status_code == 200
    assert len(await runs(client, tenant, flow_id)) == 2


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"event": "x", "distinct_id": "a", "properties": {"n": NaN}}',
        b'{"event": "x", "distinct_id": "a"}',
        b'{"api_key": "phc_nobody", "event": "x", "distinct_id": "a"}',
        b"",
        '{"api_key": "phc_nobody", "event": "x", "distinct_id": "\u00e9"}'.encode(),
    ],
)
async def test_refusals_answer_alike(app: Any, body: bytes) -> None:
    route, fast = await post_both(app, "/e/", content=body, headers={"Origin": "https://a.example"})
    assert shape(route) == shape(fast)
    assert 400 <= fast.status_code < 500 and set(fast.json()) == {"type", "code", "detail", "attr"}
