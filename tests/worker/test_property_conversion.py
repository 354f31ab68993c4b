"""Conversion by person properties: a change to a person ends its parked runs that now convert.

Changes come in through `/capture/` (`$set`, `$identify`) and the persons API; runs execute on the
embedded runner or on `hogflows worker` subprocesses. What must not happen is checked in the database
right after the request that could have caused it (a wake happens in that request's transaction).
"""

import time
import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlowRun, HogFlowRunWait
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import runs
from tests.polling import wait_for
from tests.worker.helpers import create_flow, get_run, trace, wait_for_status

# Only a wake-up can end a run parked this long in time.
LONG_WAIT = "1h"
# A woken run must finish well within this (the printed latency is what the issue targets: < 1 s).
WAKE_WITHIN = 10.0
PLAN_IS_PRO = [{"key": "plan", "type": "person", "operator": "exact", "value": ["pro"]}]


def conversion_flow(exit_condition: str = "exit_on_conversion") -> dict[str, Any]:
    trigger_filters = {"events": [{"id": "signed_up", "type": "events"}]}
    return {
        "name": "onboarding until pro",
        "status": "active",
        "exit_condition": exit_condition,
        "conversion": {"filters": PLAN_IS_PRO},
        "actions": [
            {
                "id": "trigger",
                "name": "trigger",
                "type": "trigger",
                "config": {"type": "event", "filters": trigger_filters},
            },
            {"id": "nap", "name": "nap", "type": "delay", "config": {"delay_duration": LONG_WAIT}},
            {"id": "done", "name": "done", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "nap", "type": "continue"},
            {"from": "nap", "to": "done", "type": "continue"},
        ],
    }


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def capture(client: httpx.AsyncClient, tenant: Tenant, event: str, distinct_id: str, **properties: Any) -> None:
    body = {"api_key": tenant.project_token, "event": event, "distinct_id": distinct_id, "properties": properties}
    response = await client.post("/capture/", json=body)
    assert response.status_code == 200, response.text


async def parked(client: httpx.AsyncClient, tenant: Tenant, flow_id: str, count: int) -> dict[str, dict[str, Any]]:
    async def check() -> dict[str, dict[str, Any]] | None:
        found = [r for r in await runs(client, tenant, flow_id) if r["status"] == "waiting"]
        return {r["distinct_id"]: r for r in found} if len(found) == count else None

    return dict(await wait_for(check, within=30))


async def stored(
    sessionmaker: async_sessionmaker[AsyncSession], run_id: str
) -> tuple[HogFlowRun, list[HogFlowRunWait]]:
    async with sessionmaker() as session:
        run = await session.get(HogFlowRun, uuid.UUID(run_id))
        assert run is not None
        statement = select(HogFlowRunWait).where(HogFlowRunWait.run_id == run.id)
        return run, list((await session.execute(statement)).scalars().all())


async def test_a_converting_change_ends_a_run_parked_on_a_delay(
    runner: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client = runner
    flow_id = await create_flow(client, tenant, conversion_flow())
    for user in ("ada", "bob"):
        await capture(client, tenant, "signed_up", user, **{"$set": {"plan": "free"}})
    by_user = await parked(client, tenant, flow_id, 2)
    ada, bob = by_user["ada"], by_user["bob"]
    run, [registration] = await stored(sessionmaker, ada["id"])
    assert (registration.kind, registration.event_name) == ("conversion", None)
    assert registration.filters is not None  # person-only: checked at ingest
    pickups = run.pickups

    # Another person converting, and ada changing to a value that does not convert: nothing wakes.
    await capture(client, tenant, "$set", "cyd", **{"$set": {"plan": "pro"}})
    await capture(client, tenant, "upgraded", "ada", **{"$set": {"plan": "team"}})
    await capture(client, tenant, "$identify", "ada", **{"$set_once": {"plan": "pro"}})  # kept: plan is set
    run, _ = await stored(sessionmaker, ada["id"])
    assert (run.status, run.pickups, run.next_run_at) == ("waiting", pickups, parse_time(ada["next_run_at"]))

    started = time.monotonic()
    await capture(client, tenant, "upgraded", "ada", **{"$set": {"plan": "pro"}})
    done = await wait_for_status(client, tenant, flow_id, ada["id"], "completed", within=WAKE_WITHIN)
    print(f"converting capture to exit: {time.monotonic() - started:.3f}s")
    assert ("done", "finished") not in trace(done)
    assert (await get_run(client, tenant, flow_id, bob["id"]))["status"] == "waiting"
    assert (await stored(sessionmaker, ada["id"]))[1] == []
    logs = await client.get(
        f"{flows_url(tenant)}{flow_id}/logs/", params={"instance_id": ada["id"]}, headers=auth(tenant)
    )
    messages = [entry["message"] for entry in logs.json()["results"]]
    assert any("exit_on_conversion" in m and "matches conversion filters" in m for m in messages), messages


async def test_the_persons_api_converts_a_parked_run(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, conversion_flow("exit_on_trigger_not_matched_or_conversion"))
    await capture(client, tenant, "signed_up", "ada")
    ada = (await parked(client, tenant, flow_id, 1))["ada"]
    persons_url = f"/api/projects/{tenant.team_id}/persons/"

    response = await client.post(
        persons_url, json={"distinct_id": "ada", "properties": {"plan": "free"}}, headers=auth(tenant)
    )
    assert response.status_code in (200, 201), response.text
    run, _ = await stored(sessionmaker, ada["id"])
    assert (run.status, run.next_run_at) == ("waiting", parse_time(ada["next_run_at"]))

    response = await client.post(
        persons_url, json={"distinct_id": "ada", "properties": {"plan": "pro"}}, headers=auth(tenant)
    )
    assert response.status_code in (200, 201), response.text
    done = await wait_for_status(client, tenant, flow_id, ada["id"], "completed", within=WAKE_WITHIN)
    assert ("done", "finished") not in trace(done)


async def test_a_condition_wait_wakes_only_for_a_change_that_matches(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow = conversion_flow("exit_only_at_end")
    flow["actions"][1] = {
        "id": "nap",
        "name": "wait for pro",
        "type": "wait_until_condition",
        "config": {"condition": {"filters": {"properties": PLAN_IS_PRO}}, "max_wait_duration": LONG_WAIT},
    }
    flow["actions"].append({"id": "timed_out", "name": "timed_out", "type": "exit", "config": {}})
    flow["edges"] = [
        {"from": "trigger", "to": "nap", "type": "continue"},
        {"from": "nap", "to": "done", "type": "branch", "index": 0},
        {"from": "nap", "to": "timed_out", "type": "continue"},
    ]
    flow_id = await create_flow(client, tenant, flow)
    await capture(client, tenant, "signed_up", "ada", **{"$set": {"plan": "free"}})
    ada = (await parked(client, tenant, flow_id, 1))["ada"]
    run, [registration] = await stored(sessionmaker, ada["id"])
    assert (registration.kind, registration.event_name) == ("condition", None) and registration.filters
    pickups = run.pickups

    await capture(client, tenant, "upgraded", "ada", **{"$set": {"plan": "team"}})
    run, _ = await stored(sessionmaker, ada["id"])
    assert (run.status, run.pickups, run.next_run_at) == ("waiting", pickups, parse_time(ada["next_run_at"]))

    await capture(client, tenant, "upgraded", "ada", **{"$set": {"plan": "pro"}})
    done = await wait_for_status(client, tenant, flow_id, ada["id"], "completed", within=WAKE_WITHIN)
    assert trace(done)[-2:] == [("nap", "succeeded"), ("done", "finished")]
