"""Flows, runs and integrations stored directly, for tests that drive pickups by hand."""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.crypto import SecretBox
from app.db.base import utcnow
from app.db.models import HogFlow
from app.db.repositories.integrations import IntegrationRepository
from app.db.repositories.runs import RunRepository
from app.db.session import session_scope
from app.engine.invocation import default_variables, initial_state
from app.services.runs import manual_event

Sessionmaker = async_sessionmaker[AsyncSession]


async def store_flow(
    sessionmaker: Sessionmaker, team_id: int, actions: list[dict[str, Any]], edges: list[dict[str, Any]]
) -> HogFlow:
    trigger = {"type": "manual"}
    flow = HogFlow(
        team_id=team_id,
        name="function steps",
        status="active",
        trigger=trigger,
        actions=[{"id": "trigger", "name": "trigger", "type": "trigger", "config": trigger}, *actions],
        edges=edges,
        exit_condition="exit_only_at_end",
    )
    async with session_scope(sessionmaker) as session:
        session.add(flow)
    return flow


def hand_clock() -> datetime:
    """A day ahead of the wall clock: runs stored for it are due only to processors on this clock, never to the
    session app's in-process runner, which polls the same database and would otherwise race the test for them."""
    return utcnow() + timedelta(days=1)


async def store_run(
    sessionmaker: Sessionmaker, flow: HogFlow, distinct_id: str = "user-1", now: datetime | None = None
) -> UUID:
    """A queued run, due at `now` (`hand_clock()` unless given)."""
    now = now or hand_clock()
    async with session_scope(sessionmaker) as session:
        run = await RunRepository(session).create(
            team_id=flow.team_id,
            hog_flow_id=flow.id,
            state=initial_state(manual_event(distinct_id, now), default_variables(flow.variables)),
            now=now,
            distinct_id=distinct_id,
        )
    return run.id


def app_secret_box() -> SecretBox:
    """The box of the test app's settings (`HOGFLOWS_SECRET_KEY` from the environment, else the default)."""
    return SecretBox.from_setting(Settings().secret_key)


async def store_integration(
    sessionmaker: Sessionmaker, team_id: int, kind: str, config: dict[str, Any], sensitive: dict[str, Any]
) -> int:
    async with session_scope(sessionmaker) as session:
        integration = await IntegrationRepository(session, app_secret_box()).create(
            team_id=team_id,
            kind=kind,
            config=config,
            sensitive_config=sensitive,
            integration_id=None,
            created_by=None,
        )
    return integration.id
