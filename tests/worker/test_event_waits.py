"""Event waits, correlated waits, conversion by event and delays, against PostgreSQL and real runners.

Events go in through `/capture/`; runs execute on the embedded runner (the app's in-process runner)
or on `hogflows worker` subprocesses. No fixed sleep decides anything: what must not wake is checked in
the database right after the capture that could have woken it (the wake happens in that request's
transaction), and what must wake is waited for with a deadline far below the wait's own.
"""

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db.models import HogFlowRunWait
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import runs
from tests.polling import wait_for
from tests.serving import Workers
from tests.worker.helpers import create_flow, get_run, trace, wait_for_status

# Far beyond every deadline below: only a wake-up can end these waits in time.
LONG_WAIT = "1h"
# A woken run must finish well within this; the target (1 s) is measured by bench/event_waits.py.
WAKE_WITHIN = 10.0


def trigger(event: str) -> dict[str, Any]:
    filters = {"events": [{"id": event, "type": "events"}]}
    return {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "event", "filters": filters}}


def exit_(action_id: str) -> dict[str, Any]:
    return {"id": action_id, "name": action_id, "type": "exit", "config": {}}


def wait_flow(**config: Any) -> dict[str, Any]:
    wait = {
        "id": "wait",
        "name": "wait for checkout",
        "type": "wait_until_condition",
        "config": {
            "events": [{"filters": {"events": [{"id": "checkout", "type": "events"}]}}],
            "max_wait_duration": LONG_WAIT,
            **config,
        },
        "output_variable": {"key": "checkout"},
    }
    return {
        "name": "cart abandoned",
        "status": "active",
        "actions": [trigger("added_to_cart"), wait, exit_("converted"), exit_("abandoned")],
        "edges": [
            {"from": "trigger", "to": "wait", "type": "continue"},
            {"from": "wait", "to": "converted", "type": "branch", "index": 0},
            {"from": "wait", "to": "abandoned", "type": "continue"},
        ],
        "variables": [{"key": "checkout", "default": ""}],
    }


async def capture(client: httpx.AsyncClient, tenant: Tenant, event: str, distinct_id: str, **properties: Any) -> None:
    body = {"api_key": tenant.project_token, "event": event, "distinct_id": distinct_id, "properties": properties}
    response = await client.post("/capture/", json=body)
    assert response.status_code == 200, response.text


async def parked_runs(
    client: httpx.AsyncClient, tenant: Tenant, flow_id: str, count: int, action_id: str = "wait"
) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = await runs(client, tenant, flow_id)
        parked = [run for run in found if run["status"] == "waiting" and run["current_action_id"] == action_id]
        return parked if len(parked) == count else None

    return list(await wait_for(check, within=30))


async def registrations(sessionmaker: async_sessionmaker[AsyncSession], run_id: str) -> list[HogFlowRunWait]:
    async with sessionmaker() as session:
        statement = select(HogFlowRunWait).where(HogFlowRunWait.run_id == uuid.UUID(run_id))
        return list((await session.execute(statement)).scalars().all())


async def test_a_matching_event_wakes_its_run_and_nothing_else_does(
    runner: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client = runner
    flow_id = await create_flow(client, tenant, wait_flow())
    await capture(client, tenant, "added_to_cart", "ada")
    [run] = await parked_runs(client, tenant, flow_id, 1)
    parked_until = run["next_run_at"]
    [registration] = await registrations(sessionmaker, run["id"])
    assert (registration.kind, registration.event_name) == ("event", "checkout")

    # Another person's checkout, and another event of this person: nothing wakes.
    await capture(client, tenant, "checkout", "bob")
    await capture(client, tenant, "viewed_cart", "ada")
    still = await get_run(client, tenant, flow_id, run["id"])
    assert (still["status"], still["next_run_at"]) == ("waiting", parked_until)
    assert [r.matched_at for r in await registrations(sessionmaker, run["id"])] == [None]

    started = time.monotonic()
    await capture(client, tenant, "checkout", "ada", total=42)
    done = await wait_for_status(client, tenant, flow_id, run["id"], "completed", within=WAKE_WITHIN)
    print(f"wake-up to completion: {time.monotonic() - started:.3f}s")
    assert trace(done)[-2:] == [("wait", "succeeded"), ("converted", "finished")]
    # The waking event is the step's result, as PostHog makes it.
    assert done["variables"]["checkout"]["event"] == "checkout"
    assert done["variables"]["checkout"]["properties"]["total"] == 42
    assert await registrations(sessionmaker, run["id"]) == []


async def test_a_correlated_wait_wakes_only_the_run_of_its_cart(
    queue_client: httpx.AsyncClient, workers: Workers, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    workers.start()
    client = queue_client
    flow_id = await create_flow(client, tenant, wait_flow(correlation={"expression": "event.properties.cart_id"}))
    await capture(client, tenant, "added_to_cart", "ada", cart_id="cart-1")
    await capture(client, tenant, "added_to_cart", "ada", cart_id="cart-2")
    parked = await parked_runs(client, tenant, flow_id, 2)
    by_cart: dict[str, dict[str, Any]] = {}
    for run in parked:
        [registration] = await registrations(sessionmaker, run["id"])
        by_cart[str(registration.correlation_value).strip('"')] = run
    assert set(by_cart) == {"cart-1", "cart-2"}

    await capture(client, tenant, "checkout", "ada", cart_id="cart-1")
    other = await get_run(client, tenant, flow_id, by_cart["cart-2"]["id"])
    assert (other["status"], other["next_run_at"]) == ("waiting", by_cart["cart-2"]["next_run_at"])
    done = await wait_for_status(client, tenant, flow_id, by_cart["cart-1"]["id"], "completed", within=WAKE_WITHIN)
    assert trace(done)[-1] == ("converted", "finished")
    assert done["variables"]["checkout"]["properties"]["cart_id"] == "cart-1"
    assert (await get_run(client, tenant, flow_id, by_cart["cart-2"]["id"]))["status"] == "waiting"

    await capture(client, tenant, "checkout", "ada", cart_id="cart-2")
    done = await wait_for_status(client, tenant, flow_id, by_cart["cart-2"]["id"], "completed", within=WAKE_WITHIN)
    assert done["variables"]["checkout"]["properties"]["cart_id"] == "cart-2"


def conversion_flow() -> dict[str, Any]:
    return {
        "name": "onboarding until purchase",
        "status": "active",
        "exit_condition": "exit_on_conversion",
        "conversion": {"events": [{"filters": {"events": [{"id": "purchased", "type": "events"}]}}]},
        "actions": [
            trigger("signed_up"),
            {"id": "nap", "name": "nap", "type": "delay", "config": {"delay_duration": LONG_WAIT}},
            exit_("done"),
        ],
        "edges": [
            {"from": "trigger", "to": "nap", "type": "continue"},
            {"from": "nap", "to": "done", "type": "continue"},
        ],
    }


async def test_a_conversion_event_ends_a_run_parked_on_a_delay(
    queue_client: httpx.AsyncClient, workers: Workers, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    workers.start()
    client = queue_client
    flow_id = await create_flow(client, tenant, conversion_flow())
    await capture(client, tenant, "signed_up", "ada")
    await capture(client, tenant, "signed_up", "bob")
    parked = await parked_runs(client, tenant, flow_id, 2, action_id="nap")
    ada = next(run for run in parked if run["distinct_id"] == "ada")
    bob = next(run for run in parked if run["distinct_id"] == "bob")

    await capture(client, tenant, "purchased", "ada")
    done = await wait_for_status(client, tenant, flow_id, ada["id"], "completed", within=WAKE_WITHIN)
    assert ("done", "finished") not in trace(done)
    assert (await get_run(client, tenant, flow_id, bob["id"]))["status"] == "waiting"
    assert await registrations(sessionmaker, ada["id"]) == []
    [kept] = await registrations(sessionmaker, bob["id"])
    assert (kept.kind, kept.event_name, kept.matched_at) == ("conversion", "purchased", None)


def delay_flow(delay: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "delay",
        "status": "active",
        "actions": [
            trigger("signed_up"),
            {"id": "nap", "name": "nap", "type": "delay", "config": delay},
            exit_("done"),
        ],
        "edges": [
            {"from": "trigger", "to": "nap", "type": "continue"},
            {"from": "nap", "to": "done", "type": "continue"},
        ],
    }


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize(
    ("delay", "due"),
    [
        ({"delay_duration": "5s"}, None),
        ({"delay_until": {"expression": "person.properties.due", "offset": "-1s"}}, timedelta(seconds=4)),
    ],
    ids=["delay_duration_5s", "delay_until"],
)
async def test_delays_with_a_worker(
    queue_client: httpx.AsyncClient, workers: Workers, tenant: Tenant, delay: dict[str, Any], due: timedelta | None
) -> None:
    workers.start()
    client = queue_client
    flow_id = await create_flow(client, tenant, delay_flow(delay))
    properties: dict[str, Any] = {}
    expected: Callable[[datetime], datetime] = lambda started: started + timedelta(seconds=5)  # noqa: E731
    if due is not None:
        due_at = datetime.now(UTC) + due
        properties["$set"] = {"due": due_at.isoformat()}
        expected = lambda started: due_at - timedelta(seconds=1)  # noqa: E731
    await capture(client, tenant, "signed_up", "ada", **properties)
    [run] = await parked_runs(client, tenant, flow_id, 1, action_id="nap")
    [step] = (await get_run(client, tenant, flow_id, run["id"]))["steps"]
    started = parse_time(step["started_at"])
    assert abs(parse_time(run["next_run_at"]) - expected(started)) < timedelta(seconds=1)
    done = await wait_for_status(client, tenant, flow_id, run["id"], "completed", within=30)
    assert parse_time(done["finished_at"]) >= parse_time(run["next_run_at"])
    assert trace(done)[-1] == ("done", "finished")


async def test_a_person_change_wakes_a_condition_wait(client: httpx.AsyncClient, tenant: Tenant) -> None:
    plan_is_pro = [{"key": "plan", "type": "person", "operator": "exact", "value": ["pro"]}]
    flow = wait_flow(events=[], condition={"filters": {"properties": plan_is_pro}})
    flow_id = await create_flow(client, tenant, flow)
    await capture(client, tenant, "added_to_cart", "ada", **{"$set": {"plan": "free"}})
    [run] = await parked_runs(client, tenant, flow_id, 1)
    await capture(client, tenant, "$set", "ada", **{"$set": {"plan": "pro"}})
    done = await wait_for_status(client, tenant, flow_id, run["id"], "completed", within=WAKE_WITHIN)
    assert trace(done)[-1] == ("converted", "finished")


async def test_the_persons_api_wakes_a_condition_wait(client: httpx.AsyncClient, tenant: Tenant) -> None:
    plan_is_pro = [{"key": "plan", "type": "person", "operator": "exact", "value": ["pro"]}]
    flow_id = await create_flow(
        client, tenant, wait_flow(events=[], condition={"filters": {"properties": plan_is_pro}})
    )
    await capture(client, tenant, "added_to_cart", "ada")
    [run] = await parked_runs(client, tenant, flow_id, 1)
    body = {"distinct_id": "ada", "properties": {"plan": "pro"}}
    response = await client.post(f"/api/projects/{tenant.team_id}/persons/", json=body, headers=auth(tenant))
    assert response.status_code in (200, 201), response.text
    done = await wait_for_status(client, tenant, flow_id, run["id"], "completed", within=WAKE_WITHIN)
    assert trace(done)[-1] == ("converted", "finished")


async def test_a_wait_follows_its_person_through_a_merge(client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(client, tenant, wait_flow())
    await capture(client, tenant, "signed_in", "ada")
    await capture(client, tenant, "added_to_cart", "anon-1")
    [run] = await parked_runs(client, tenant, flow_id, 1)
    await capture(client, tenant, "$identify", "ada", **{"$anon_distinct_id": "anon-1"})
    await capture(client, tenant, "checkout", "ada")
    done = await wait_for_status(client, tenant, flow_id, run["id"], "completed", within=WAKE_WITHIN)
    assert trace(done)[-1] == ("converted", "finished")


async def test_a_cancelled_wait_keeps_no_registration_and_an_event_does_not_revive_it(
    client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    flow_id = await create_flow(client, tenant, wait_flow())
    await capture(client, tenant, "added_to_cart", "cyd")
    [run] = await parked_runs(client, tenant, flow_id, 1)
    assert len(await registrations(sessionmaker, run["id"])) == 1

    url = f"{flows_url(tenant)}{flow_id}/invocations/cancel/"
    response = await client.post(url, json={"invocation_ids": [run["id"]]}, headers=auth(tenant))
    assert response.status_code == 200, response.text
    assert await registrations(sessionmaker, run["id"]) == []

    await capture(client, tenant, "checkout", "cyd")
    assert (await get_run(client, tenant, flow_id, run["id"]))["status"] == "cancelled"
