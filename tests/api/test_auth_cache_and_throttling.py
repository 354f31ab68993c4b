"""The cached principal (dropped at once when a key changes), queries per read, per-key throttling."""

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.config import Settings
from app.db.models import PersonalAPIKey
from app.db.session import session_scope
from app.main import create_app
from app.services.api_keys import generate_personal_api_key, hash_key
from app.services.bootstrap import Tenant
from app.services.rate_limit import MemoryRateLimiter, Rate, RedisRateLimiter
from tests.api.batch_helpers import schedules_url
from tests.api.helpers import auth, create_schedule_flow, flows_url
from tests.conftest import TenantFactory
from tests.serving import app_client


@contextmanager
def counted_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def _key_row(session: AsyncSession, tenant: Tenant) -> PersonalAPIKey:
    return (
        await session.execute(select(PersonalAPIKey).where(PersonalAPIKey.secure_value == hash_key(tenant.api_key)))
    ).scalar_one()


class TestCachedPrincipal:
    async def test_a_rolled_key_stops_working_at_once_and_the_new_one_works(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).status_code == 200  # now cached
        rolled = generate_personal_api_key()
        async with session_scope(sessionmaker) as session:
            (await _key_row(session, tenant)).secure_value = hash_key(rolled)
        response = await client.get(flows_url(tenant), headers=auth(tenant))
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"
        response = await client.get(flows_url(tenant), headers={"Authorization": f"Bearer {rolled}"})
        assert response.status_code == 200

    async def test_a_deleted_key_stops_working_at_once(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).status_code == 200
        async with session_scope(sessionmaker) as session:
            await session.execute(delete(PersonalAPIKey).where(PersonalAPIKey.secure_value == hash_key(tenant.api_key)))
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).status_code == 401

    async def test_changed_scopes_apply_at_once(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).status_code == 200
        async with session_scope(sessionmaker) as session:
            await session.execute(
                update(PersonalAPIKey)
                .where(PersonalAPIKey.secure_value == hash_key(tenant.api_key))
                .values(scopes=["person:read"])
            )
        response = await client.get(flows_url(tenant), headers=auth(tenant))
        assert response.status_code == 403
        assert response.json()["detail"] == "API key missing required scope 'hog_flow:read'"

    async def test_a_write_rolled_back_leaves_the_key_working(
        self, client: httpx.AsyncClient, tenant: Tenant, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).status_code == 200
        async with sessionmaker() as session:
            (await _key_row(session, tenant)).secure_value = hash_key(generate_personal_api_key())
            await session.flush()
            await session.rollback()
        assert (await client.get(flows_url(tenant), headers=auth(tenant))).status_code == 200


@pytest.fixture
async def quiet_app(database_url: str, redis_url: str) -> AsyncIterator[Any]:
    """An app with Redis, so no in-process runner shares its engine: every statement counted is a request's."""
    queue = f"hogflows:test:{uuid.uuid4().hex[:8]}"
    application = create_app(Settings(DATABASE_URL=database_url, REDIS_URL=redis_url, HOGFLOWS_QUEUE_NAME=queue))
    async with application.router.lifespan_context(application):
        yield application


class TestQueriesPerRead:
    async def test_retrieve_and_list_make_one_query_each(self, quiet_app: Any, tenant: Tenant) -> None:
        engine = quiet_app.state.engine
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=quiet_app), base_url="http://test") as client:
            flow_id = await create_schedule_flow(client, tenant)
            await create_schedule_flow(client, tenant)
            schedule = {"rrule": "FREQ=DAILY;BYHOUR=9;BYMINUTE=0", "starts_at": "2024-01-01T00:00:00Z"}
            schedule_ids = []
            for _ in range(2):
                created = await client.post(schedules_url(tenant, flow_id), json=schedule, headers=auth(tenant))
                assert created.status_code == 201, created.text
                schedule_ids.append(created.json()["id"])
            assert (await client.get(flows_url(tenant), headers=auth(tenant))).status_code == 200  # warm
            with counted_queries(engine) as statements:
                response = await client.get(f"{flows_url(tenant)}{flow_id}/", headers=auth(tenant))
            assert response.status_code == 200
            assert response.json()["created_by"]["email"] == tenant.email
            assert [schedule["id"] for schedule in response.json()["schedules"]] == schedule_ids  # oldest first
            assert len(statements) == 1, statements
            with counted_queries(engine) as statements:
                response = await client.get(flows_url(tenant), headers=auth(tenant))
            assert response.status_code == 200
            assert response.json()["count"] == 2
            assert all(flow["created_by"]["email"] == tenant.email for flow in response.json()["results"])
            assert len(statements) == 1, statements

    async def test_a_cold_cache_is_loaded_in_two_queries(self, quiet_app: Any, tenant: Tenant) -> None:
        engine = quiet_app.state.engine
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=quiet_app), base_url="http://test") as client:
            flow_id = await create_schedule_flow(client, tenant)
            quiet_app.state.principals._entries.clear()
            with counted_queries(engine) as statements:
                response = await client.get(f"{flows_url(tenant)}{flow_id}/", headers=auth(tenant))
        assert response.status_code == 200
        # key + user, memberships + organizations + teams, the flow with its creator and schedules
        assert len(statements) == 3, statements


def throttled_body(wait: int) -> dict[str, Any]:
    unit = "second" if wait == 1 else "seconds"
    return {
        "type": "throttled_error",
        "code": "throttled",
        "detail": f"Request was throttled. Expected available in {wait} {unit}.",
        "attr": None,
    }


@pytest.fixture
async def throttled_client(
    database_url: str, redis_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose keys may make 3 requests a minute (and 5 an hour); Redis-backed when asked."""
    settings: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "HOGFLOWS_API_RATE_LIMIT_BURST": "3/minute",
        "HOGFLOWS_API_RATE_LIMIT_SUSTAINED": "5/hour",
    }
    if getattr(request, "param", None) == "redis":
        settings |= {"REDIS_URL": redis_url, "HOGFLOWS_QUEUE_NAME": f"hogflows:test:{uuid.uuid4().hex[:8]}"}
    async with app_client(Settings(**settings)) as client:
        yield client


@pytest.mark.parametrize("throttled_client", ["memory", "redis"], indirect=True)
async def test_a_key_over_its_limit_gets_429_and_other_keys_do_not(
    throttled_client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    busy, other = await make_tenant(), await make_tenant()
    for _ in range(3):
        assert (await throttled_client.get(flows_url(busy), headers=auth(busy))).status_code == 200
    response = await throttled_client.get(flows_url(busy), headers=auth(busy))
    assert response.status_code == 429
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    assert response.json() == throttled_body(wait)
    # Another key (another user) is not affected.
    assert (await throttled_client.get(flows_url(other), headers=auth(other))).status_code == 200


async def test_the_wait_follows_drf(make_tenant: TenantFactory) -> None:
    """DRF's wait: what is left of the window of the oldest request, spread over the requests still due."""
    clock = [1000.0]
    limiter = MemoryRateLimiter(clock=lambda: clock[0])
    burst, sustained = Rate("burst", 3, 60), Rate("sustained", 4, 3600)
    for _ in range(3):
        assert await limiter.hit("k", [burst, sustained]) is None
        clock[0] += 10
    assert await limiter.hit("k", [burst, sustained]) == pytest.approx((60 - 30) / 1)  # burst full; sustained 4/4
    clock[0] += 31  # the first request has left the minute; the hour holds 4
    assert await limiter.hit("k", [burst, sustained]) == pytest.approx((3600 - 61) / 1)
    assert await limiter.hit("other", [burst, sustained]) is None


async def test_redis_limiter_fails_open() -> None:
    broken = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        assert await RedisRateLimiter(broken).hit("k", [Rate("burst", 1, 60)]) is None
        assert await RedisRateLimiter(broken).hit("k", [Rate("burst", 1, 60)]) is None
    finally:
        await broken.aclose()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


async def test_redis_limiter_admits_a_tenth_locally_and_records_it_with_the_next_call(redis_client: Redis) -> None:
    clock = [100.0]
    prefix = f"hogflows:test-throttle:{uuid.uuid4().hex[:8]}"
    one = RedisRateLimiter(redis_client, prefix, clock=lambda: clock[0])
    other = RedisRateLimiter(redis_client, prefix, clock=lambda: clock[0])
    rate = Rate("burst", 20, 60)
    key = f"{prefix}:burst:k"
    assert await one.hit("k", [rate]) is None
    assert await redis_client.zcard(key) == 1
    for _ in range(2):  # a tenth of 20, without Redis
        assert await one.hit("k", [rate]) is None
    assert await redis_client.zcard(key) == 1
    assert await one.hit("k", [rate]) is None  # asks again, recording the two it admitted
    assert await redis_client.zcard(key) == 4
    clock[0] += 1.5  # past the slack: Redis is asked although the allowance is not used up
    assert await one.hit("k", [rate]) is None
    assert await redis_client.zcard(key) == 5
    # Two processes together: at most a tenth of the limit over it for each, then refused.
    admitted = 5
    for _ in range(40):
        for limiter in (one, other):
            if await limiter.hit("k", [rate]) is None:
                admitted += 1
    assert 20 <= admitted <= 20 + 2 * 2
    assert await one.hit("k", [rate]) is not None
    assert await other.hit("k", [rate]) is not None


async def test_redis_limiter_asks_every_time_under_ten(redis_client: Redis) -> None:
    prefix = f"hogflows:test-throttle:{uuid.uuid4().hex[:8]}"
    limiter = RedisRateLimiter(redis_client, prefix)
    rates = [Rate("burst", 9, 60), Rate("sustained", 100, 3600)]
    for count in range(1, 10):
        assert await limiter.hit("k", rates) is None
        assert await redis_client.zcard(f"{prefix}:burst:k") == count
    assert await limiter.hit("k", rates) is not None
