"""The official PostHog Python SDK drives flows: a live `hogflows serve` on a free port, Redis, real workers.

The SDK posts `/batch/` (plain and gzip) exactly as it would to PostHog; the API process upserts
persons, matches the trigger and queues runs; a `hogflows worker` subprocess executes them.
"""

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from posthog import Posthog

from app.services.bootstrap import Tenant
from tests.api.ingest_helpers import create_flow, metric_totals, runs
from tests.functions.servers import LocalHttpServer
from tests.polling import wait_for
from tests.serving import Workers, serving

HAS_EMAIL = [{"key": "email", "type": "person", "operator": "is_set", "value": "is_set"}]
PLAN_IS_PRO = [{"key": "plan", "type": "person", "operator": "exact", "value": ["pro"]}]

SIGNUP_FLOW: dict[str, Any] = {
    "name": "welcome by plan",
    "status": "active",
    "actions": [
        {
            "id": "trigger",
            "name": "trigger",
            "type": "trigger",
            "config": {
                "type": "event",
                "filters": {"events": [{"id": "signed_up", "type": "events"}], "properties": HAS_EMAIL},
            },
        },
        {
            "id": "by_plan",
            "name": "by plan",
            "type": "conditional_branch",
            "config": {"conditions": [{"filters": {"properties": PLAN_IS_PRO}}]},
        },
        {
            "id": "welcome",
            "name": "welcome webhook",
            "type": "function",
            "config": {
                "template_id": "template-webhook",
                "inputs": {
                    "url": {"value": "(set per test)"},
                    "method": {"value": "POST"},
                    "body": {
                        "value": {
                            "email": "{person.properties.email}",
                            "plan": "{person.properties.plan}",
                            "event": "{event.event}",
                            "greeting": "Welcome {person.properties.email}!",
                        }
                    },
                },
            },
        },
        {"id": "pro", "name": "pro", "type": "exit", "config": {}},
        {"id": "free", "name": "free", "type": "exit", "config": {}},
    ],
    "edges": [
        {"from": "trigger", "to": "by_plan", "type": "continue"},
        {"from": "by_plan", "to": "welcome", "type": "branch", "index": 0},
        {"from": "welcome", "to": "pro", "type": "continue"},
        {"from": "by_plan", "to": "free", "type": "continue"},
    ],
}


def signup_flow(webhook_url: str) -> dict[str, Any]:
    flow = json.loads(json.dumps(SIGNUP_FLOW))
    flow["actions"][2]["config"]["inputs"]["url"]["value"] = webhook_url
    return flow


@pytest.fixture(scope="module")
def live_server(worker_env: dict[str, str]) -> Iterator[str]:
    """`hogflows serve` in a subprocess, on the test database, Redis and queue."""
    with serving(worker_env) as server:
        yield server.base_url


def trace(run: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(step["action_id"], step["outcome"], step["next_action_id"]) for step in run["steps"]]


@pytest.mark.parametrize("gzip", [False, True])
async def test_sdk_events_start_and_complete_a_flow(
    live_server: str, tenant: Tenant, workers: Workers, gzip: bool, http_server: LocalHttpServer
) -> None:
    workers.start()
    async with httpx.AsyncClient(base_url=live_server) as api:
        flow_id = await create_flow(api, tenant, signup_flow(f"{http_server.base_url}/welcome"))
        sdk = Posthog(tenant.project_token, host=live_server, gzip=gzip, flush_at=50, flush_interval=0.1)
        try:
            # Ada browses anonymously, identifies with a pro plan, then signs up.
            sdk.capture("$pageview", distinct_id="anon-ada", properties={"$current_url": "https://example.com"})
            sdk.capture(
                "$identify",
                distinct_id="ada",
                properties={"$anon_distinct_id": "anon-ada", "$set": {"email": "ada@example.com", "plan": "pro"}},
            )
            sdk.capture("signed_up", distinct_id="ada")
            # Bob is on the free plan; Carol has no email, so the trigger filter leaves her out.
            sdk.set(distinct_id="bob", properties={"email": "bob@example.com", "plan": "free"})
            sdk.capture("signed_up", distinct_id="bob")
            sdk.set_once(distinct_id="carol", properties={"plan": "pro"})
            sdk.capture("signed_up", distinct_id="carol")
            await asyncio.to_thread(sdk.flush)
        finally:
            await asyncio.to_thread(sdk.shutdown)

        async def all_completed() -> list[dict[str, Any]] | None:
            listed = await runs(api, tenant, flow_id)
            if len(listed) < 2 or any(run["status"] != "completed" for run in listed):
                return None
            return listed

        listed = await wait_for(all_completed, within=30)
        by_person: dict[str, dict[str, Any]] = {}
        for run in listed:
            detail = await api.get(
                f"/api/projects/{tenant.team_id}/hog_flows/{flow_id}/runs/{run['id']}/",
                headers={"Authorization": f"Bearer {tenant.api_key}"},
            )
            by_person[run["distinct_id"]] = detail.json()
        assert set(by_person) == {"ada", "bob"}
        assert trace(by_person["ada"]) == [
            ("by_plan", "succeeded", "welcome"),
            ("welcome", "succeeded", "pro"),
            ("pro", "finished", None),
        ]
        [request] = http_server.requests
        assert (request.method, request.path) == ("POST", "/welcome")
        assert request.json() == {
            "email": "ada@example.com",
            "plan": "pro",
            "event": "signed_up",
            "greeting": "Welcome ada@example.com!",
        }
        assert trace(by_person["bob"]) == [("by_plan", "succeeded", "free"), ("free", "finished", None)]
        totals = await metric_totals(api, tenant, flow_id)
        assert totals["triggered"] == 2
        # Every event but ada's and bob's sign-ups: pageview, identify, $set, carol's $set_once and sign-up.
        assert totals["filtered"] == 5


async def test_sdk_with_a_wrong_token_is_refused(live_server: str) -> None:
    async with httpx.AsyncClient(base_url=live_server) as api:
        response = await api.post(
            "/batch/", json={"api_key": "phc_unknown", "batch": [{"event": "e", "distinct_id": "d"}]}
        )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
