"""A team's capture groups in a pipeline (app/ingest/batching.py): a group reads while the one before it
commits, yet person updates apply in the order they were sent, writes commit in order, and a request the
database refuses fails alone. Groups of one request each (`max_events=1`), so every request is a group."""

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.base import utcnow
from app.db.repositories.persons import PersonRepository, PersonUpdate
from app.db.session import session_scope
from app.ingest.batching import IngestBatcher
from app.ingest.events import IncomingEvent, normalize_event
from app.services.bootstrap import Tenant
from app.worker.scheduling import WakeUpScheduler
from tests.api.ingest_helpers import create_flow, event_flow, metric_totals, runs
from tests.api.test_capture_group_commit import load_team

REQUESTS = 30


def batcher_of_single_requests(app: Any) -> IngestBatcher:
    return IngestBatcher(app.state.sessionmaker, app.state.ingest, WakeUpScheduler(), max_events=1)


def event(distinct_id: str, properties: dict[str, Any] | None = None) -> list[IncomingEvent]:
    raw = {"event": "signed_up", "distinct_id": distinct_id, "properties": properties or {}}
    return [normalize_event(raw, sent_at=None, now=utcnow())]


async def test_person_updates_of_consecutive_groups_apply_in_order(
    client: httpx.AsyncClient, app: Any, tenant: Tenant
) -> None:
    await create_flow(client, tenant, event_flow())
    batcher = batcher_of_single_requests(app)
    team = await load_team(app, tenant)
    # Each group changes the person, so the next one may read it only once that change has committed.
    updates = [event("pipelined", {"$set": {"n": n, f"k{n}": True}}) for n in range(REQUESTS)]
    await asyncio.gather(*(batcher.ingest(team, events) for events in updates))
    async with session_scope(app.state.sessionmaker) as session:
        person = await PersonRepository(session).get_by_distinct_id(tenant.team_id, "pipelined")
    assert person is not None
    assert person.properties == {"n": REQUESTS - 1, **{f"k{n}": True for n in range(REQUESTS)}}


@pytest.mark.postgres_only
async def test_consecutive_groups_commit_in_order(
    client: httpx.AsyncClient, app: Any, engine: AsyncEngine, tenant: Tenant
) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    async with session_scope(app.state.sessionmaker) as session:
        # Persons that exist and do not change: each group writes only its last statement, so the next
        # one reads while it commits.
        await PersonRepository(session).upsert_many(tenant.team_id, [PersonUpdate(f"p-{n}") for n in range(REQUESTS)])
    batcher = batcher_of_single_requests(app)
    team = await load_team(app, tenant)
    await asyncio.gather(*(batcher.ingest(team, event(f"p-{n}")) for n in range(REQUESTS)))
    statement = text(
        "SELECT distinct_id FROM hog_flow_runs WHERE hog_flow_id = CAST(:id AS uuid) ORDER BY xmin::text::bigint"
    )
    async with engine.connect() as connection:
        committed = list((await connection.scalars(statement, {"id": flow_id})).all())
    assert committed == [f"p-{n}" for n in range(REQUESTS)]


@pytest.mark.postgres_only
async def test_a_refused_request_fails_alone_in_the_pipeline(
    client: httpx.AsyncClient, app: Any, tenant: Tenant
) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    batcher = batcher_of_single_requests(app)
    team = await load_team(app, tenant)
    # PostgreSQL text cannot hold NUL.
    bad = [dataclasses.replace(event("x")[0], distinct_id="bad\x00id")]
    requests = [event("a"), bad, event("b"), event("c"), bad, event("d")]
    results = await asyncio.gather(*(batcher.ingest(team, events) for events in requests), return_exceptions=True)
    assert [isinstance(result, DBAPIError) for result in results] == [False, True, False, False, True, False]
    assert sorted(run["distinct_id"] for run in await runs(client, tenant, flow_id)) == ["a", "b", "c", "d"]


async def test_held_counts_of_consecutive_groups_add_up_exactly(
    client: httpx.AsyncClient, app: Any, tenant: Tenant
) -> None:
    """Groups hold their metric counts for the next one while more come (at most a second): none is lost
    or counted twice, and the last group writes them before it answers."""
    flow_id = await create_flow(
        client, tenant, event_flow(properties=[{"key": "plan", "type": "event", "value": "pro", "operator": "exact"}])
    )
    batcher = batcher_of_single_requests(app)
    team = await load_team(app, tenant)
    plans = ["pro" if n % 3 else "free" for n in range(REQUESTS)]
    await asyncio.gather(*(batcher.ingest(team, event(f"h-{n}", {"plan": plan})) for n, plan in enumerate(plans)))
    # The last group, which no group follows, wrote what the groups before it held before it answered.
    expected = {"triggered": plans.count("pro"), "filtered": plans.count("free")}
    assert await metric_totals(client, tenant, flow_id) == expected
    await batcher.ingest(team, event("quiet", {"plan": "pro"}))  # a quiet team writes at once
    assert await metric_totals(client, tenant, flow_id) == {**expected, "triggered": expected["triggered"] + 1}
