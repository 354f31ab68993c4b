"""Group commit of captures (app/ingest/batching.py): concurrent requests of a team share one transaction,
and a request whose data the database refuses fails alone."""

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import Session

from app.db.base import utcnow
from app.db.models import Team
from app.db.session import session_scope
from app.ingest.batching import IngestBatcher
from app.ingest.events import IncomingEvent, normalize_event
from app.services.bootstrap import Tenant
from app.worker.scheduling import WakeUpScheduler
from tests.api.ingest_helpers import create_flow, event_flow, runs


def counted_batcher(app: Any, engine: AsyncEngine) -> tuple[IngestBatcher, list[int]]:
    """A batcher on the app's services whose sessions are of a class of its own, so only its commits count."""
    commits: list[int] = []
    counted = type("CountedSession", (Session,), {})
    event.listen(counted, "after_commit", lambda _session: commits.append(1))
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False, sync_session_class=counted)
    return IngestBatcher(sessionmaker, app.state.ingest, WakeUpScheduler()), commits


async def transactions(engine: AsyncEngine, flow_id: str, commits: list[int]) -> int:
    """How many transactions wrote the flow's runs: told by the rows' `xmin` on PostgreSQL (where capture's
    transaction is held on the asyncpg connection, not by the session), by the session's commits elsewhere."""
    if engine.dialect.name != "postgresql":
        return len(commits)
    statement = text("SELECT count(DISTINCT xmin::text) FROM hog_flow_runs WHERE hog_flow_id = CAST(:id AS uuid)")
    async with engine.connect() as connection:
        return int(await connection.scalar(statement, {"id": flow_id}) or 0)


async def load_team(app: Any, tenant: Tenant) -> Team:
    async with session_scope(app.state.sessionmaker) as session:
        team = await session.get(Team, tenant.team_id)
        assert team is not None
        session.expunge(team)
        return team


def one_event(distinct_id: str) -> list[IncomingEvent]:
    raw = {"event": "signed_up", "distinct_id": distinct_id, "properties": {}}
    return [normalize_event(raw, sent_at=None, now=utcnow())]


async def test_concurrent_requests_of_a_team_are_one_transaction(
    client: httpx.AsyncClient, app: Any, engine: AsyncEngine, tenant: Tenant
) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    batcher, commits = counted_batcher(app, engine)
    team = await load_team(app, tenant)
    await asyncio.gather(*(batcher.ingest(team, one_event(f"user-{n}")) for n in range(10)))
    assert await transactions(engine, flow_id, commits) == 1
    assert sorted(run["distinct_id"] for run in await runs(client, tenant, flow_id)) == sorted(
        f"user-{n}" for n in range(10)
    )
    # An idle process writes a lone request at once, in a transaction of its own.
    await batcher.ingest(team, one_event("user-late"))
    assert await transactions(engine, flow_id, commits) == 2


@pytest.mark.postgres_only
async def test_a_request_the_database_refuses_fails_alone(
    client: httpx.AsyncClient, app: Any, engine: AsyncEngine, tenant: Tenant
) -> None:
    flow_id = await create_flow(client, tenant, event_flow())
    batcher, _commits = counted_batcher(app, engine)
    team = await load_team(app, tenant)
    # PostgreSQL text cannot hold NUL: the whole group's transaction fails, then each request is retried.
    bad = [dataclasses.replace(one_event("x")[0], distinct_id="bad\x00id")]
    requests = [one_event("user-a"), bad, one_event("user-b")]
    results = await asyncio.gather(*(batcher.ingest(team, events) for events in requests), return_exceptions=True)
    assert results[0] is None and results[2] is None
    # As through SQLAlchemy (so the request middleware logs it without its values, and an unreachable
    # database answers 503): asyncpg's errors on capture's own statements come wrapped.
    assert isinstance(results[1], DBAPIError)
    assert sorted(run["distinct_id"] for run in await runs(client, tenant, flow_id)) == ["user-a", "user-b"]
