"""With Redis, a change committed by one API process drops the other API processes' caches at once.

The other process is a real `hogflows serve` whose cache TTLs are a minute, so only the Redis relay
(app/db/invalidation.py) can make it see the change within the few seconds these tests wait.
"""

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.models import PersonalAPIKey
from app.db.session import session_scope
from app.services.api_keys import generate_personal_api_key, hash_key
from app.services.bootstrap import Tenant
from tests.api.helpers import auth, flows_url
from tests.api.ingest_helpers import event_flow
from tests.polling import wait_for
from tests.serving import app_client, serving


@pytest.fixture
def other_process(worker_env: dict[str, str]) -> Iterator[str]:
    env = worker_env | {"HOGFLOWS_API_AUTH_CACHE_SECONDS": "60", "HOGFLOWS_EVENT_FLOW_CACHE_SECONDS": "60"}
    with serving(env) as server:
        yield server.base_url


@pytest.fixture
async def this_process(database_url: str, redis_url: str, queue_name: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(DATABASE_URL=database_url, REDIS_URL=redis_url, HOGFLOWS_QUEUE_NAME=queue_name)
    async with app_client(settings) as client:
        yield client


async def test_a_key_rolled_in_one_process_is_refused_by_another_at_once(
    other_process: str,
    this_process: httpx.AsyncClient,
    tenant: Tenant,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with httpx.AsyncClient(base_url=other_process) as other:
        assert (await other.get(flows_url(tenant), headers=auth(tenant))).status_code == 200  # cached there
        async with session_scope(sessionmaker) as session:
            key = (
                await session.execute(
                    select(PersonalAPIKey).where(PersonalAPIKey.secure_value == hash_key(tenant.api_key))
                )
            ).scalar_one()
            key.secure_value = hash_key(generate_personal_api_key())

        async def refused() -> bool:
            return (await other.get(flows_url(tenant), headers=auth(tenant))).status_code == 401

        started = time.monotonic()
        await wait_for(refused, within=10)
        assert time.monotonic() - started < 10


async def test_a_flow_saved_in_one_process_is_matched_by_another_at_once(
    other_process: str, this_process: httpx.AsyncClient, tenant: Tenant
) -> None:
    response = await this_process.post(flows_url(tenant), json=event_flow(["a"]), headers=auth(tenant))
    assert response.status_code == 201, response.text
    flow_id = response.json()["id"]
    runs_url = f"{flows_url(tenant)}{flow_id}/runs/"

    async def capture(other: httpx.AsyncClient, name: str) -> None:
        body: dict[str, Any] = {"api_key": tenant.project_token, "event": name, "distinct_id": "ada"}
        assert (await other.post("/capture/", json=body)).status_code == 200

    async with httpx.AsyncClient(base_url=other_process) as other:
        await capture(other, "a")  # the other process now caches the team's flows
        assert (await other.get(runs_url, headers=auth(tenant))).json()["count"] == 1
        patched = event_flow(["b"])["actions"]
        response = await this_process.patch(
            f"{flows_url(tenant)}{flow_id}/", json={"actions": patched}, headers=auth(tenant)
        )
        assert response.status_code == 200, response.text

        async def matched() -> bool:
            await capture(other, "b")
            return bool((await other.get(runs_url, headers=auth(tenant))).json()["count"] >= 2)

        await wait_for(matched, within=10)
