"""The in-process trigger store (embedded mode), driven by a fake clock."""

from app.ingest.stores import CounterIncrement, MemoryTriggerStore, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_counter_window_starts_at_the_first_hit() -> None:
    clock = Clock()
    store = MemoryTriggerStore(clock)
    assert await store.increment_counters([CounterIncrement("k", 1, 60)]) == [1]
    clock.now += 59
    # A later hit does not push the window out (EXPIRE NX).
    assert await store.increment_counters([CounterIncrement("k", 2, 60)]) == [3]
    clock.now += 1
    assert await store.increment_counters([CounterIncrement("k", 1, 60)]) == [1]
    assert await store.increment_counters([CounterIncrement("other", 5, 60)]) == [5]


async def test_token_bucket_burst_then_refill() -> None:
    clock = Clock()
    store = MemoryTriggerStore(clock)
    bucket = TokenBucket(size=3, refill_per_second=1.0, ttl_seconds=3600)
    assert await store.take_tokens([("flow", 2)], bucket) == [2]
    assert await store.take_tokens([("flow", 2)], bucket) == [1]
    assert await store.take_tokens([("flow", 1)], bucket) == [0]
    clock.now += 1.5
    assert await store.take_tokens([("flow", 5)], bucket) == [1]
    clock.now += 100
    assert await store.take_tokens([("flow", 5), ("other", 1)], bucket) == [3, 1]


async def test_bucket_forgets_after_its_ttl() -> None:
    clock = Clock()
    store = MemoryTriggerStore(clock)
    bucket = TokenBucket(size=2, refill_per_second=0.0, ttl_seconds=10)
    assert await store.take_tokens([("flow", 5)], bucket) == [2]
    clock.now += 9
    assert await store.take_tokens([("flow", 1)], bucket) == [0]
    clock.now += 11
    assert await store.take_tokens([("flow", 1)], bucket) == [1]


async def test_group_types_first_seen_order_at_most_five() -> None:
    store = MemoryTriggerStore()
    assert await store.group_type_indexes(1, ["company", "project"]) == {"company": 0, "project": 1}
    assert await store.group_type_indexes(1, ["project", "a", "b", "c", "d"]) == {
        "project": 1,
        "a": 2,
        "b": 3,
        "c": 4,
    }
    assert await store.group_type_indexes(2, ["x"]) == {"x": 0}
