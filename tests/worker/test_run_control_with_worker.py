"""Cancel, rerun, results and the idempotent run-now, against real worker processes and PostgreSQL."""

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.functions.servers import LocalHttpServer, Reply
from tests.polling import wait_for
from tests.serving import Workers
from tests.worker.conftest import module_owned
from tests.worker.helpers import create_flow, get_run, start_run, trace, wait_for_status

# Workers that may call 127.0.0.1 and retry after ~0.1 s, one started before each test.
client, tenant, workers = module_owned({"HOGFLOWS_FETCH_RETRY_BASE": "0.1"}, start=1)


def hook(action_id: str, url: str) -> dict[str, Any]:
    inputs = {"url": {"value": url}, "body": {"value": {"user": "{event.distinct_id}"}}}
    config = {"template_id": "template-webhook", "inputs": inputs}
    return {"id": action_id, "name": action_id, "type": "function", "config": config}


def chain(*steps: dict[str, Any], trigger: str = "schedule") -> dict[str, Any]:
    actions = [
        {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": trigger}},
        *steps,
        {"id": "done", "name": "done", "type": "exit", "config": {}},
    ]
    edges = [{"from": a["id"], "to": b["id"], "type": "continue"} for a, b in itertools.pairwise(actions)]
    return {"name": "ops", "status": "active", "actions": actions, "edges": edges}


def url(tenant: Tenant, flow_id: str, path: str) -> str:
    return f"{flows_url(tenant)}{flow_id}/{path}"


async def logs_of(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, run_id: str) -> list[str]:
    response = await client.get(
        url(tenant, flow_id, "logs/"), params={"instance_id": run_id, "limit": 500}, headers=auth(tenant)
    )
    assert response.status_code == 200, response.text
    return [entry["message"] for entry in response.json()["results"]]


async def cancel(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, body: Any) -> httpx.Response:
    return await client.post(url(tenant, flow_id, "invocations/cancel/"), json=body, headers=auth(tenant))


# -- cancel ---------------------------------------------------------------------------------------


async def test_cancel_ends_a_parked_run_at_once(client: httpx.AsyncClient, tenant: Tenant, workers: Workers) -> None:
    delay = {"id": "wait", "name": "wait", "type": "delay", "config": {"delay_duration": "1h"}}
    flow_id = await create_flow(client, tenant, chain(delay))
    run_id = await start_run(client, tenant, flow_id)
    await wait_for_status(client, tenant, flow_id, run_id, "waiting")
    missing = str(uuid.uuid4())

    response = await cancel(client, tenant, flow_id, {"invocation_ids": [run_id, missing]})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "marked": 1,
        "remaining": 0,
        "done": True,
        "ids": [{"id": run_id, "outcome": "requested"}, {"id": missing, "outcome": "not_found"}],
    }
    run = await get_run(client, tenant, flow_id, run_id)
    assert run["status"] == "cancelled" and run["next_run_at"] is None
    assert "Workflow run canceled by request at [Action:wait]" in await logs_of(client, tenant, flow_id, run_id)
    again = await cancel(client, tenant, flow_id, {"invocation_ids": [run_id]})
    assert again.json()["ids"] == [{"id": run_id, "outcome": "already_finished"}]
    assert again.json()["marked"] == 0


async def test_cancel_stops_a_running_run_at_its_next_step(
    client: httpx.AsyncClient, tenant: Tenant, workers: Workers, http_server: LocalHttpServer
) -> None:
    release = threading.Event()
    http_server.script("/slow", Reply(200, hold=release))
    http_server.script("/after", Reply(200))
    flow_id = await create_flow(
        client, tenant, chain(hook("slow", http_server.url("/slow")), hook("after", http_server.url("/after")))
    )
    run_id = await start_run(client, tenant, flow_id)
    try:
        await wait_for(lambda: http_server.requests_to("/slow"))
        response = await cancel(client, tenant, flow_id, {"all": True})
        assert response.status_code == 200, response.text
        assert response.json() == {"marked": 1, "remaining": 0, "done": True}
        assert (await get_run(client, tenant, flow_id, run_id))["status"] == "running"
    finally:
        release.set()

    run = await wait_for_status(client, tenant, flow_id, run_id, "cancelled")
    assert trace(run) == [("slow", "succeeded")]
    assert http_server.requests_to("/after") == []
    assert "Workflow run canceled by request at [Action:after]" in await logs_of(client, tenant, flow_id, run_id)


@pytest.mark.parametrize(
    "body",
    [{}, {"all": True, "invocation_ids": []}, {"all": False}],
)
async def test_cancel_wants_exactly_one_selector(client: httpx.AsyncClient, tenant: Tenant, body: Any) -> None:
    flow_id = await create_flow(client, tenant, chain())
    response = await cancel(client, tenant, flow_id, body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "Provide exactly one of 'invocation_ids' or 'all'."


# -- rerun and results ----------------------------------------------------------------------------


def window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "window_start": (now - timedelta(hours=1)).isoformat(),
        "window_end": (now + timedelta(hours=1)).isoformat(),
    }


def successes(server: LocalHttpServer, path: str, user: str) -> int:
    return sum(1 for request in server.requests_to(path) if request.json().get("user") == user)


async def test_rerun_recovers_failed_runs_and_a_second_rerun_sends_nothing(
    client: httpx.AsyncClient, tenant: Tenant, workers: Workers, http_server: LocalHttpServer
) -> None:
    http_server.script("/flaky", Reply(500, {"error": "down"}))
    flow_id = await create_flow(client, tenant, chain(hook("send", http_server.url("/flaky"))))
    runs = {user: await start_run(client, tenant, flow_id, distinct_id=user) for user in ("ada", "bob")}
    for run_id in runs.values():
        await wait_for_status(client, tenant, flow_id, run_id, "failed")
    failed_requests = len(http_server.requests_to("/flaky"))

    results = await client.get(
        url(tenant, flow_id, "invocation_results/"), params={"status": "failed"}, headers=auth(tenant)
    )
    assert results.status_code == 200, results.text
    assert {row["invocation_id"] for row in results.json()} == set(runs.values())
    assert {row["error_kind"] for row in results.json()} == {"http_5xx"}
    count = await client.get(url(tenant, flow_id, "invocation_results_count/"), headers=auth(tenant))
    assert count.json() == {"count": 2}

    http_server.script("/flaky", Reply(200))
    response = await client.post(url(tenant, flow_id, "rerun/"), json={"filter": window()}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    assert response.json()["queued_count"] == 2 and response.json()["skipped_count"] == 0
    for run_id in runs.values():
        run = await wait_for_status(client, tenant, flow_id, run_id, "completed")
        assert trace(run)[-2:] == [("send", "succeeded"), ("done", "finished")]
    assert len(http_server.requests_to("/flaky")) == failed_requests + 2
    sent = len(http_server.requests_to("/flaky"))

    detail = await client.get(url(tenant, flow_id, f"invocation_results/{runs['ada']}/"), headers=auth(tenant))
    assert detail.json()["status"] == "succeeded" and detail.json()["attempts"] == 1 and detail.json()["is_retry"]
    assert detail.json()["invocation_globals"]["event"]["distinct_id"] == "ada"

    # `max_attempts` counts reruns, as PostHog's `attempts` does: runs rerun once are skipped at 1.
    capped = {"filter": {**window(), "status": ["succeeded"], "max_attempts": 1}}
    response = await client.post(url(tenant, flow_id, "rerun/"), json=capped, headers=auth(tenant))
    assert (response.json()["queued_count"], response.json()["skipped_count"]) == (0, 2)

    # Rerunning the succeeded runs replays their sends from the ledger: nothing goes out again.
    again = {"filter": {**window(), "status": ["succeeded", "failed"]}}
    response = await client.post(url(tenant, flow_id, "rerun/"), json=again, headers=auth(tenant))
    assert response.json()["queued_count"] == 2
    for run_id in runs.values():
        await wait_for(partial(_attempted, client, tenant, flow_id, run_id, 2))
    assert len(http_server.requests_to("/flaky")) == sent
    nothing = await client.post(url(tenant, flow_id, "rerun/"), json={"filter": window()}, headers=auth(tenant))
    assert nothing.json()["queued_count"] == 0


async def _attempted(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, run_id: str, attempts: int) -> bool:
    response = await client.get(url(tenant, flow_id, f"invocation_results/{run_id}/"), headers=auth(tenant))
    body = response.json()
    return bool(body["attempts"] == attempts and body["status"] == "succeeded")


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"window_end": "2020-01-01T00:00:00Z"}, "'window_end' must be after 'window_start'."),
        (
            {"window_start": "2020-01-01T00:00:00Z", "window_end": "2020-03-01T00:00:00Z"},
            "Rerun window cannot exceed 30 days (ClickHouse TTL on hog_invocation_results).",
        ),
    ],
)
async def test_rerun_window_limits(
    client: httpx.AsyncClient, tenant: Tenant, change: dict[str, str], detail: str
) -> None:
    flow_id = await create_flow(client, tenant, chain())
    body = {"filter": {**window(), **change}}
    response = await client.post(url(tenant, flow_id, "rerun/"), json=body, headers=auth(tenant))
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == detail


# -- run now --------------------------------------------------------------------------------------


async def test_the_same_idempotency_key_starts_one_run(
    client: httpx.AsyncClient, tenant: Tenant, workers: Workers, http_server: LocalHttpServer
) -> None:
    http_server.script("/once", Reply(200))
    flow_id = await create_flow(client, tenant, chain(hook("send", http_server.url("/once"))))
    headers = {**auth(tenant), "Idempotency-Key": f"click-{uuid.uuid4().hex}"}

    first = await client.post(url(tenant, flow_id, "run/"), json={"variables": {}}, headers=headers)
    second = await client.post(url(tenant, flow_id, "run/"), json={"variables": {}}, headers=headers)

    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json() == {"status": "queued", "invocation_id": first.json()["invocation_id"]}
    assert second.headers.get("idempotent-replayed") == "true"
    await wait_for_status(client, tenant, flow_id, first.json()["invocation_id"], "completed")
    listed = await client.get(url(tenant, flow_id, "runs/"), headers=auth(tenant))
    assert listed.json()["count"] == 1
    assert len(http_server.requests_to("/once")) == 1

    other = await client.post(url(tenant, flow_id, "run/"), json={}, headers=auth(tenant))
    assert other.status_code == 200 and other.json()["invocation_id"] != first.json()["invocation_id"]


async def test_run_now_needs_a_schedule_or_manual_trigger(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow = chain(trigger="webhook")
    flow["actions"][0]["config"] = {
        "type": "webhook",
        "template_id": "template-webhook",
        "inputs": {"url": {"value": "https://example.com"}},
    }
    flow_id = await create_flow(client, tenant, flow)
    response = await client.post(url(tenant, flow_id, "run/"), json={}, headers=auth(tenant))
    assert response.status_code == 400, response.text
    assert response.json()["attr"] == "trigger"


# -- postHogCapture -------------------------------------------------------------------------------


async def test_a_capture_step_feeds_the_pipeline_and_cannot_loop_forever(
    client: httpx.AsyncClient, tenant: Tenant, workers: Workers
) -> None:
    """The flow captures the very event that triggers it: the captured event starts one more run, whose
    own capture is refused (PostHog's `$hog_function_execution_count` guard)."""
    capture = {
        "id": "capture",
        "name": "capture",
        "type": "function",
        "config": {
            "template_id": "template-posthog-capture",
            "inputs": {"event": {"value": "looped"}, "properties": {"value": {"from": "{event.distinct_id}"}}},
        },
    }
    flow = chain(capture, trigger="event")
    flow["actions"][0]["config"] = {"type": "event", "filters": {"events": [{"id": "looped", "type": "events"}]}}
    flow_id = await create_flow(client, tenant, flow)

    sent = {"api_key": tenant.project_token, "event": "looped", "distinct_id": "loop-user", "properties": {}}
    response = await client.post("/i/v0/e/", json=sent)
    assert response.status_code == 200, response.text

    async def two_finished() -> list[dict[str, Any]] | None:
        listed = await client.get(url(tenant, flow_id, "runs/"), headers=auth(tenant))
        found = listed.json()["results"]
        return found if len(found) == 2 and all(run["status"] == "completed" for run in found) else None

    first_and_second = await wait_for(two_finished)
    second = max(first_and_second, key=lambda run: str(run["created_at"]))
    detail = await client.get(url(tenant, flow_id, f"invocation_results/{second['id']}/"), headers=auth(tenant))
    properties = detail.json()["invocation_globals"]["event"]["properties"]
    assert properties["from"] == "loop-user" and properties["$hog_function_execution_count"] == 1
    messages = [
        message
        for run in first_and_second
        for message in await logs_of(client, tenant, flow_id, run["id"])
        if "postHogCapture" in message
    ]
    assert messages == [
        "[Action:capture] postHogCapture was called from an event that already executed this function. "
        "To prevent infinite loops, the event was not captured."
    ]
    listed = await client.get(url(tenant, flow_id, "runs/"), headers=auth(tenant))
    assert listed.json()["count"] == 2
