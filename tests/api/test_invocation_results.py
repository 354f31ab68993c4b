"""`invocation_results`, `invocation_results/{id}`, `invocation_results_count` and `run` answer PostHog's
shapes, over HTTP on the real app (runs execute in the embedded runner against a local server)."""

import json
import uuid
from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.functions.servers import LocalHttpServer, Reply
from tests.polling import wait_for

RESULT_FIELDS = {
    "invocation_id",
    "status",
    "error_kind",
    "error_message",
    "distinct_id",
    "person_id",
    "scheduled_at",
    "started_at",
    "finished_at",
    "duration_ms",
    "attempts",
    "is_retry",
}


def webhook_flow(url: str) -> dict[str, Any]:
    inputs = {"url": {"value": url}, "body": {"value": {"user": "{event.distinct_id}"}}}
    actions = [
        {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
        {
            "id": "send",
            "name": "send",
            "type": "function",
            "config": {"template_id": "template-webhook", "inputs": inputs},
        },
        {"id": "done", "name": "done", "type": "exit", "config": {}},
    ]
    edges = [{"from": "trigger", "to": "send", "type": "continue"}, {"from": "send", "to": "done", "type": "continue"}]
    return {"name": "results", "status": "active", "actions": actions, "edges": edges}


async def _create(client: httpx.AsyncClient, tenant: Tenant, body: dict[str, Any]) -> str:
    response = await client.post(flows_url(tenant), json=body, headers=auth(tenant))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _finished_run(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, distinct_id: str) -> str:
    runs_url = f"{flows_url(tenant)}{flow_id}/runs/"
    started = await client.post(runs_url, json={"distinct_id": distinct_id}, headers=auth(tenant))
    assert started.status_code == 201, started.text
    run_id = str(started.json()["id"])

    async def finished() -> bool:
        detail = (await client.get(f"{runs_url}{run_id}/", headers=auth(tenant))).json()
        return detail["status"] in ("completed", "failed")

    await wait_for(finished, within=20)
    return run_id


@pytest.fixture
async def two_runs(
    client: httpx.AsyncClient, tenant: Tenant, http_server: LocalHttpServer
) -> tuple[str, dict[str, str]]:
    """A flow whose webhook refuses ada (400) and accepts bob: one failed and one succeeded run."""
    http_server.script("/hook/ada", Reply(400, {"error": "no"}))
    http_server.script("/hook/bob", Reply(200))
    flow_id = await _create(client, tenant, webhook_flow(http_server.url("/hook/{event.distinct_id}")))
    runs = {user: await _finished_run(client, tenant, flow_id, user) for user in ("ada", "bob")}
    return flow_id, runs


def _url(tenant: Tenant, flow_id: str, path: str) -> str:
    return f"{flows_url(tenant)}{flow_id}/{path}"


async def _list(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, **params: Any) -> httpx.Response:
    return await client.get(_url(tenant, flow_id, "invocation_results/"), params=params, headers=auth(tenant))


async def _count(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, **params: Any) -> Any:
    response = await client.get(_url(tenant, flow_id, "invocation_results_count/"), params=params, headers=auth(tenant))
    assert response.status_code == 200, response.text
    return response.json()


async def test_results_rows_are_posthogs(
    client: httpx.AsyncClient, tenant: Tenant, two_runs: tuple[str, dict[str, str]]
) -> None:
    flow_id, runs = two_runs
    response = await _list(client, tenant, flow_id)
    assert response.status_code == 200, response.text
    rows = response.json()
    assert isinstance(rows, list) and [row["invocation_id"] for row in rows] == [runs["bob"], runs["ada"]]
    for row in rows:
        assert set(row) == RESULT_FIELDS
        assert row["attempts"] == 0 and row["is_retry"] is False
        assert row["started_at"] is not None and row["finished_at"] is not None
        assert isinstance(row["duration_ms"], int) and row["duration_ms"] >= 0
    failed, succeeded = rows[1], rows[0]
    assert (failed["status"], failed["error_kind"], failed["distinct_id"]) == ("failed", "http_4xx", "ada")
    assert "status 400" in failed["error_message"]
    assert (succeeded["status"], succeeded["error_kind"], succeeded["error_message"]) == ("succeeded", "", "")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "failed"}, {"ada"}),
        ({"status": "succeeded,failed"}, {"ada", "bob"}),
        ({"status": "success"}, {"bob"}),
        ({"status": "running"}, set()),
        ({"status": "nonsense"}, set()),  # PostHog matches names against stored statuses
        ({"distinct_id": "bob"}, {"bob"}),
        ({"error_message_contains": "WEBHOOK FAILED WITH STATUS 4"}, {"ada"}),
        ({"after": "-1h"}, {"ada", "bob"}),
        ({"before": "-1h"}, set()),
        ({"after": "2000-01-01", "before": "2000-01-02"}, set()),
    ],
)
async def test_results_and_count_filter_alike(
    client: httpx.AsyncClient,
    tenant: Tenant,
    two_runs: tuple[str, dict[str, str]],
    params: dict[str, str],
    expected: set[str],
) -> None:
    flow_id, runs = two_runs
    response = await _list(client, tenant, flow_id, **params)
    assert response.status_code == 200, response.text
    assert {row["invocation_id"] for row in response.json()} == {runs[user] for user in expected}
    assert await _count(client, tenant, flow_id, **params) == {"count": len(expected)}


async def test_limit_keeps_the_newest(
    client: httpx.AsyncClient, tenant: Tenant, two_runs: tuple[str, dict[str, str]]
) -> None:
    flow_id, runs = two_runs
    response = await _list(client, tenant, flow_id, limit=1)
    assert [row["invocation_id"] for row in response.json()] == [runs["bob"]]
    assert await _count(client, tenant, flow_id) == {"count": 2}


@pytest.mark.parametrize(
    ("params", "attr", "detail"),
    [
        ({"limit": 0}, "limit", "Ensure this value is greater than or equal to 1."),
        ({"limit": 501}, "limit", "Ensure this value is less than or equal to 500."),
        ({"status": ""}, "status", "This field may not be blank."),
        ({"distinct_id": ""}, "distinct_id", "This field may not be blank."),
        (
            {"error_message_contains": "x" * 201},
            "error_message_contains",
            "Ensure this field has no more than 200 characters.",
        ),
        ({"limit": "many"}, "limit", "A valid integer is required."),
        ({"after": "yesterday-ish"}, "after", None),
    ],
)
async def test_bad_result_filters_are_400(
    client: httpx.AsyncClient, tenant: Tenant, params: dict[str, Any], attr: str, detail: str | None
) -> None:
    flow_id = await _create(client, tenant, webhook_flow("http://127.0.0.1:9/unused"))
    for path in ("invocation_results/", "invocation_results_count/"):
        if path.endswith("count/") and "limit" in params:
            continue
        response = await client.get(_url(tenant, flow_id, path), params=params, headers=auth(tenant))
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["type"] == "validation_error" and body["attr"] == attr
        if detail is not None:
            assert body["detail"] == detail


async def test_result_detail_carries_the_state_without_inputs(
    client: httpx.AsyncClient, tenant: Tenant, two_runs: tuple[str, dict[str, str]]
) -> None:
    flow_id, runs = two_runs
    response = await client.get(_url(tenant, flow_id, f"invocation_results/{runs['ada']}/"), headers=auth(tenant))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == RESULT_FIELDS | {"invocation_globals"}
    assert body["status"] == "failed"
    state = body["invocation_globals"]
    assert state["event"]["distinct_id"] == "ada" and "variables" in state
    assert '"inputs"' not in json.dumps(state)

    for unknown in (str(uuid.uuid4()), "not-an-id", runs["bob"] + "x"):
        missing = await client.get(_url(tenant, flow_id, f"invocation_results/{unknown}/"), headers=auth(tenant))
        assert missing.status_code == 404, missing.text
        assert missing.json()["detail"] == "Invocation not found."


async def test_run_now_answers_queued_and_its_invocation_id(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = webhook_flow("http://127.0.0.1:9/unused")
    flow["actions"] = [flow["actions"][0], flow["actions"][2]]
    flow["edges"] = [{"from": "trigger", "to": "done", "type": "continue"}]
    flow_id = await _create(client, tenant, flow)
    headers = {**auth(tenant), "Idempotency-Key": f"k-{uuid.uuid4().hex}"}

    first = await client.post(_url(tenant, flow_id, "run/"), json={"variables": {}}, headers=headers)
    again = await client.post(_url(tenant, flow_id, "run/"), headers=headers)

    assert first.status_code == 200 and again.status_code == 200, (first.text, again.text)
    assert set(first.json()) == {"status", "invocation_id"} and first.json()["status"] == "queued"
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    invocation_id = first.json()["invocation_id"]

    async def succeeded() -> bool:
        detail = await client.get(_url(tenant, flow_id, f"invocation_results/{invocation_id}/"), headers=auth(tenant))
        return bool(detail.json()["status"] == "succeeded")

    await wait_for(succeeded, within=20)
    assert await _count(client, tenant, flow_id) == {"count": 1}
    other = await client.post(_url(tenant, flow_id, "run/"), headers=auth(tenant))
    assert other.status_code == 200 and other.json()["invocation_id"] != invocation_id


async def test_openapi_shows_posthogs_shapes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    base = "/api/projects/{team_id}/hog_flows/{flow_id}/"

    def schema_of(path: str, method: str = "get") -> dict[str, Any]:
        content = spec["paths"][base + path][method]["responses"]["200"]["content"]["application/json"]
        found: dict[str, Any] = content["schema"]
        if found.get("type") == "array":
            found = found["items"]
        return spec["components"]["schemas"][found["$ref"].split("/")[-1]]

    assert set(schema_of("invocation_results/")["properties"]) == RESULT_FIELDS
    listed = spec["paths"][base + "invocation_results/"]["get"]
    assert {p["name"] for p in listed["parameters"]} >= {
        "status",
        "distinct_id",
        "error_message_contains",
        "after",
        "before",
        "limit",
    }
    detail = schema_of("invocation_results/{invocation_id}/")
    assert set(detail["properties"]) == RESULT_FIELDS | {"invocation_globals"}
    assert set(schema_of("invocation_results_count/")["properties"]) == {"count"}
    assert set(schema_of("run/", "post")["properties"]) == {"status", "invocation_id"}
    run_now = spec["paths"][base + "run/"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in run_now["parameters"]}
