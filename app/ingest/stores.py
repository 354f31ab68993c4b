"""The shared state ingestion needs across API processes, behind one small interface.

Three things: masking counters (INCRBY with a TTL set when the key is new), per-flow token
buckets, and the team's group type → index mapping. `RedisTriggerStore` (app/ingest/redis_store.py)
keeps them in Redis so every API process sees the same counts; `MemoryTriggerStore` is the embedded
mode's in-process twin with the same semantics.
"""

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

# PostHog allows five group types per project.
MAX_GROUP_TYPES = 5


@dataclass(frozen=True)
class CounterIncrement:
    key: str
    amount: int
    ttl_seconds: int


@dataclass(frozen=True)
class TokenBucket:
    size: int
    refill_per_second: float
    ttl_seconds: int


def refill(tokens: float, last: float, now: float, bucket: TokenBucket) -> float:
    return min(float(bucket.size), tokens + max(0.0, now - last) * bucket.refill_per_second)


def take(tokens: float, cost: int) -> int:
    """How many of `cost` invocations a bucket holding `tokens` lets through (one whole token each)."""
    return max(0, min(cost, math.floor(tokens)))


class TriggerStore(Protocol):
    async def increment_counters(self, increments: Sequence[CounterIncrement]) -> list[int] | None:
        """Add to each counter (TTL set only when the key is new); the new values, or None if unavailable."""
        ...

    async def take_tokens(self, costs: Sequence[tuple[str, int]], bucket: TokenBucket) -> list[int] | None:
        """Take up to `cost` tokens from each key's bucket; how many were granted, or None if unavailable."""
        ...

    async def group_type_indexes(self, team_id: int, group_types: Sequence[str]) -> dict[str, int]:
        """The index of each group type, assigning free ones in first-seen order (at most five per team)."""
        ...


class MemoryTriggerStore:
    """Single-process implementation (embedded mode); `clock` is injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._counters: dict[str, tuple[int, float]] = {}
        self._buckets: dict[str, tuple[float, float, float]] = {}
        self._group_types: dict[int, dict[str, int]] = {}

    async def increment_counters(self, increments: Sequence[CounterIncrement]) -> list[int] | None:
        now = self.clock()
        values = []
        for item in increments:
            value, expires_at = self._counters.get(item.key, (0, math.inf))
            if expires_at <= now:
                value, expires_at = 0, math.inf
            if expires_at == math.inf:
                expires_at = now + item.ttl_seconds
            value += item.amount
            self._counters[item.key] = (value, expires_at)
            values.append(value)
        self._evict(now)
        return values

    async def take_tokens(self, costs: Sequence[tuple[str, int]], bucket: TokenBucket) -> list[int] | None:
        now = self.clock()
        granted = []
        for key, cost in costs:
            tokens, last, expires_at = self._buckets.get(key, (float(bucket.size), now, math.inf))
            if expires_at <= now:
                tokens, last = float(bucket.size), now
            tokens = refill(tokens, last, now, bucket)
            allowed = take(tokens, cost)
            self._buckets[key] = (tokens - allowed, max(last, now), now + bucket.ttl_seconds)
            granted.append(allowed)
        return granted

    async def group_type_indexes(self, team_id: int, group_types: Sequence[str]) -> dict[str, int]:
        known = self._group_types.setdefault(team_id, {})
        for group_type in group_types:
            if group_type not in known and len(known) < MAX_GROUP_TYPES:
                known[group_type] = len(known)
        return {group_type: known[group_type] for group_type in group_types if group_type in known}

    def _evict(self, now: float) -> None:
        # Expired counters are dropped now and then so a long-lived process does not keep every hash forever.
        if len(self._counters) > 10_000:
            self._counters = {key: entry for key, entry in self._counters.items() if entry[1] > now}
