"""What a change to a person wakes, through the persons API.

The API wakes parked runs whose property waits the change may satisfy. A run in the middle of a pickup is
not parked, so the pickup itself must notice, when it parks, that the person it read has changed. And an
upsert that checks many waits' filters must not hold the event loop while it does.

Pickups run by hand in this process (as a worker runs them) on the module's own database, so nothing else
takes a run; the persons API is the real app's, in this process (its event loop is the test's).
"""

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.models import HogFlowRun
from app.db.repositories.persons import PersonRepository
from app.db.repositories.runs import RunRepository
from app.db.repositories.waits import WaitRepository
from app.db.session import create_engine, create_sessionmaker, session_scope
from app.engine.waits import WaitRegistration, person_only
from app.filters import compile_filters
from app.services.bootstrap import Tenant
from app.worker.processor import RunProcessor
from app.worker.scheduling import WakeUpScheduler
from tests.api.helpers import auth
from tests.engine.flows import action, chain
from tests.functions.db_helpers import store_flow
from tests.functions.servers import LocalHttpServer, Reply
from tests.polling import wait_for
from tests.worker.helpers import create_flow, get_run, start_run, trace

PLAN_IS_PRO = [{"key": "plan", "type": "person", "operator": "exact", "value": ["pro"]}]


def hook_then_wait_flow(url: str) -> dict[str, Any]:
    """A webhook step (the test holds its answer), then a wait for the person to be on the pro plan."""
    hook = {
        "id": "hook",
        "name": "hook",
        "type": "function",
        "config": {"template_id": "template-webhook", "inputs": {"url": {"value": url}}},
    }
    nap = {
        "id": "nap",
        "name": "wait for pro",
        "type": "wait_until_condition",
        "config": {"condition": {"filters": {"properties": PLAN_IS_PRO}}, "max_wait_duration": "1h"},
    }
    return {
        "name": "hook, then wait for pro",
        "status": "active",
        "actions": [
            {"id": "trigger", "name": "trigger", "type": "trigger", "config": {"type": "schedule"}},
            hook,
            nap,
            {"id": "done", "name": "done", "type": "exit", "config": {}},
            {"id": "timed_out", "name": "timed_out", "type": "exit", "config": {}},
        ],
        "edges": [
            {"from": "trigger", "to": "hook", "type": "continue"},
            {"from": "hook", "to": "nap", "type": "continue"},
            {"from": "nap", "to": "done", "type": "branch", "index": 0},
            {"from": "nap", "to": "timed_out", "type": "continue"},
        ],
    }


@pytest.fixture
async def module_sessionmaker(module_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(module_database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def set_plan(client: httpx.AsyncClient, tenant: Tenant, distinct_id: str, plan: str) -> None:
    body = {"distinct_id": distinct_id, "properties": {"plan": plan}}
    response = await client.post(f"/api/projects/{tenant.team_id}/persons/", json=body, headers=auth(tenant))
    assert response.status_code in (200, 201), response.text


async def stored_run(sessionmaker: async_sessionmaker[AsyncSession], run_id: str) -> HogFlowRun:
    async with sessionmaker() as session:
        run = await session.get(HogFlowRun, UUID(run_id))
    assert run is not None
    return run


async def test_a_change_while_the_run_is_mid_step_wakes_it_when_it_parks(
    module_client: httpx.AsyncClient,
    module_tenant: Tenant,
    module_sessionmaker: async_sessionmaker[AsyncSession],
    http_server: LocalHttpServer,
) -> None:
    client, tenant, sessionmaker = module_client, module_tenant, module_sessionmaker
    settings = Settings(HOGFLOWS_ALLOW_PRIVATE_FETCH=True)
    worker = RunProcessor(sessionmaker, WakeUpScheduler(), settings=settings)
    flow_id = await create_flow(client, tenant, hook_then_wait_flow(http_server.url("/hook")))
    for user in ("ada", "bob"):
        await set_plan(client, tenant, user, "free")

    # Bob's person does not change: his run parks until the wait's deadline, and is not due before it.
    http_server.script("/hook", Reply(200))
    bob = await start_run(client, tenant, flow_id, distinct_id="bob")
    assert await worker.process(UUID(bob)) == "waiting"
    parked = await stored_run(sessionmaker, bob)
    assert parked.next_run_at is not None and parked.next_run_at > datetime.now(UTC) + timedelta(minutes=50)
    assert await worker.process(UUID(bob)) is None

    # Ada moves to pro while her run is inside the webhook step: the persons API finds it running.
    hold = threading.Event()
    http_server.script("/hook", Reply(200, hold=hold))
    ada = await start_run(client, tenant, flow_id, distinct_id="ada")
    pickup = asyncio.create_task(worker.process(UUID(ada)))
    try:

        async def in_flight() -> bool:
            assert not pickup.done(), pickup.result()
            return len(http_server.requests_to("/hook")) == 2

        await wait_for(in_flight, within=60)
        await set_plan(client, tenant, "ada", "pro")
        assert (await stored_run(sessionmaker, ada)).status == "running"
    finally:
        hold.set()
    # The pickup still saw "free" and parks; parking notices the change and makes the run due at once.
    assert await asyncio.wait_for(pickup, 60) == "waiting"
    woken = await stored_run(sessionmaker, ada)
    assert woken.status == "waiting" and woken.next_run_at is not None
    assert woken.next_run_at <= datetime.now(UTC)
    assert await worker.process(UUID(ada)) == "completed"
    run = await get_run(client, tenant, flow_id, ada)
    assert trace(run)[-2:] == [("nap", "succeeded"), ("done", "finished")]


# A person-only conversion goal with a long list of values: each check costs the filter's size in work.
MANY_PLANS = [f"plan-{i}" for i in range(20_000)] + ["pro"]
WAITING_PERSONS = 30
FAR_AWAY = datetime(2100, 1, 1, tzinfo=UTC)


async def park_runs_on_plans(sessionmaker: async_sessionmaker[AsyncSession], tenant: Tenant) -> dict[str, UUID]:
    """A run per person, parked until 2100 on a property conversion registration with MANY_PLANS."""
    filters = {"properties": [{"key": "plan", "type": "person", "operator": "exact", "value": MANY_PLANS}]}
    registration = WaitRegistration(
        kind="conversion", event_name=None, filters=person_only(compile_filters(filters)), expires_at=None
    )
    assert registration.filters is not None
    flow = await store_flow(sessionmaker, tenant.team_id, [action("done", "exit")], chain("trigger", "done"))
    runs: dict[str, UUID] = {}
    async with session_scope(sessionmaker) as session:
        people, waits = PersonRepository(session), WaitRepository(session)
        for i in range(WAITING_PERSONS):
            person = await people.get_by_distinct_id(tenant.team_id, f"user-{i}")
            assert person is not None
            run = await RunRepository(session).create(
                team_id=tenant.team_id, hog_flow_id=flow.id, state={}, now=FAR_AWAY, distinct_id=f"user-{i}"
            )
            run.status = "waiting"
            await waits.store(run, person.id, step_waits=None, conversion_waits=[registration], now=FAR_AWAY)
            runs[f"user-{i}"] = run.id
    return runs


async def test_an_upsert_checking_many_waits_does_not_hold_the_loop(
    module_client: httpx.AsyncClient,
    module_tenant: Tenant,
    module_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    client, tenant, sessionmaker = module_client, module_tenant, module_sessionmaker
    persons_url = f"/api/projects/{tenant.team_id}/persons/"
    everyone = [{"distinct_id": f"user-{i}", "properties": {"plan": "free"}} for i in range(WAITING_PERSONS)]
    assert (await client.post(persons_url, json={"persons": everyone}, headers=auth(tenant))).status_code == 200
    runs = await park_runs_on_plans(sessionmaker, tenant)

    # Every other person moves to "pro"; the rest change to a plan the goal does not list.
    changes = [
        {"distinct_id": f"user-{i}", "properties": {"plan": "pro" if i % 2 else "team"}} for i in range(WAITING_PERSONS)
    ]
    loop = asyncio.get_running_loop()
    stalls: list[float] = []
    upsert = asyncio.create_task(client.post(persons_url, json={"persons": changes}, headers=auth(tenant)))
    started = loop.time()
    while not upsert.done():
        before = loop.time()
        await asyncio.sleep(0.005)
        stalls.append(loop.time() - before)
    took = loop.time() - started
    response = upsert.result()
    assert response.status_code == 200, response.text

    # Checking the filters is most of the request's work; held on the loop, it would be one long stall.
    assert max(stalls) < took / 3, f"the loop stalled {max(stalls):.2f} s of a {took:.2f} s upsert"
    async with session_scope(sessionmaker) as session:
        stored = {user: await session.get(HogFlowRun, run_id) for user, run_id in runs.items()}
    woken = {user for user, run in stored.items() if run is not None and run.next_run_at != FAR_AWAY}
    # Each run whose person now converts is woken (a check the request's budget left undecided wakes its
    # run too: the pickup decides).
    assert woken >= {f"user-{i}" for i in range(WAITING_PERSONS) if i % 2}
