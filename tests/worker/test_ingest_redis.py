"""Trigger masking and rate limiting on Redis: the store itself, and capture through the production-like app."""

import hashlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from app.ingest import redis_store
from app.ingest.redis_store import RedisTriggerStore
from app.ingest.stores import CounterIncrement, TokenBucket
from app.services.bootstrap import Tenant
from tests.api.ingest_helpers import create_flow, event_flow, logs, metric_totals
from tests.polling import wait_for


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def key(name: str) -> str:
    return f"test:{uuid.uuid4().hex}:{name}"


async def test_counters_expire_from_the_first_hit(redis: Redis) -> None:
    store = RedisTriggerStore(redis)
    counter = key("mask")
    assert await store.increment_counters([CounterIncrement(counter, 1, 1)]) == [1]
    assert await store.increment_counters([CounterIncrement(counter, 2, 100)]) == [3]
    assert 0 < await redis.pttl(counter) <= 1000  # the later, longer TTL did not replace the first
    # Redis expires the key on its own clock: wait for that, then the next hit starts a new counter.
    await wait_for(lambda: _missing(redis, counter), within=10, interval=0.05)
    assert await store.increment_counters([CounterIncrement(counter, 1, 1)]) == [1]


async def _missing(redis: Redis, key: str) -> bool:
    return not await redis.exists(key)


class Clock:
    """Stands in for the `time` module the store reads the bucket's refill time from."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        return self.now


async def test_token_bucket(redis: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(redis_store, "time", clock)
    store = RedisTriggerStore(redis)
    flow = key("tokens")
    bucket = TokenBucket(size=3, refill_per_second=5.0, ttl_seconds=60)
    assert await store.take_tokens([(flow, 2)], bucket) == [2]
    assert await store.take_tokens([(flow, 5)], bucket) == [1]
    assert await store.take_tokens([(flow, 1)], bucket) == [0]
    clock.now += 0.45  # refills two tokens at 5/s
    assert await store.take_tokens([(flow, 5), (key("fresh"), 1)], bucket) == [2, 1]
    assert 0 < await redis.ttl(flow) <= 60


async def test_group_types(redis: Redis) -> None:
    store = RedisTriggerStore(redis)
    team = int(uuid.uuid4().int % 1_000_000) + 1_000_000
    try:
        assert await store.group_type_indexes(team, ["company"]) == {"company": 0}
        many = await store.group_type_indexes(team, ["a", "b", "c", "d", "e", "company"])
        assert many == {"a": 1, "b": 2, "c": 3, "d": 4, "company": 0}
    finally:
        await redis.delete(f"hogflows:ingest:group-types:{team}")


async def test_unavailable_redis_fails_closed_for_masking_and_open_for_rate_limits() -> None:
    broken = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisTriggerStore(broken)
    try:
        assert await store.increment_counters([CounterIncrement("k", 1, 60)]) is None
        assert await store.take_tokens([("k", 1)], TokenBucket(1, 1.0, 60)) is None
        assert await store.group_type_indexes(1, ["company"]) == {}
    finally:
        await broken.aclose()


async def test_capture_masks_with_redis_counters(queue_client: httpx.AsyncClient, tenant: Tenant, redis: Redis) -> None:
    flow_id = await create_flow(queue_client, tenant, event_flow(masking={"hash": "{event.distinct_id}", "ttl": 600}))
    batch = [{"event": "signed_up", "distinct_id": "masked"}] * 3
    response = await queue_client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
    assert response.status_code == 200
    await queue_client.post("/capture/", json={"api_key": tenant.project_token, **batch[0]})
    assert await metric_totals(queue_client, tenant, flow_id) == {"triggered": 1, "masked": 3}
    counter = f"@posthog/hog-masker/mask/{flow_id}/{hashlib.md5(b'masked').hexdigest()}"
    assert int(await redis.get(counter)) == 4
    assert 590 <= await redis.ttl(counter) <= 600


async def test_capture_rate_limits_with_redis_buckets(queue_client: httpx.AsyncClient, tenant: Tenant) -> None:
    flow_id = await create_flow(queue_client, tenant, event_flow())
    batch = [{"event": "signed_up", "distinct_id": f"user-{i}"} for i in range(60)]
    for _ in range(2):
        response = await queue_client.post("/batch/", json={"api_key": tenant.project_token, "batch": batch})
        assert response.status_code == 200
    totals = await metric_totals(queue_client, tenant, flow_id)
    # 100 tokens, plus at most a couple refilled at 1/s between the two requests.
    assert 100 <= totals["triggered"] <= 102
    assert totals["triggered"] + totals["rate_limited"] == 120
    warnings = await logs(queue_client, tenant, flow_id, level="WARN")
    assert len(warnings) == totals["rate_limited"]
