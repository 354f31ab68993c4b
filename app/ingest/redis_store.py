"""`TriggerStore` on Redis: one Lua script call per request for each kind of state, atomic per key.

Errors are returned as "unavailable" (None / no groups) and logged; the pipeline decides what that
means (masking fails closed, rate limiting fails open, as in PostHog).
"""

import time
from collections.abc import Sequence
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.ingest.stores import MAX_GROUP_TYPES, CounterIncrement, TokenBucket

logger = structlog.get_logger(__name__)

# INCRBY, then EXPIRE only if the key has no TTL yet (EXPIRE NX without needing Redis 7).
_INCREMENT = """
local values = {}
for i, key in ipairs(KEYS) do
  local value = redis.call('INCRBY', key, ARGV[2 * i - 1])
  if redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, ARGV[2 * i])
  end
  values[i] = value
end
return values
"""

# A token bucket per key: {tokens, ts}. Each invocation takes one whole token; a bucket below one
# token lets nothing through. Returns how many of each key's `cost` were granted.
_TAKE_TOKENS = """
local now = tonumber(ARGV[1])
local size = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local granted = {}
for i, key in ipairs(KEYS) do
  local cost = tonumber(ARGV[4 + i])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(state[1])
  local ts = tonumber(state[2])
  if tokens == nil or ts == nil then
    tokens = size
    ts = now
  end
  if now > ts then
    tokens = math.min(size, tokens + (now - ts) * rate)
    ts = now
  end
  local allowed = math.min(cost, math.floor(tokens))
  if allowed < 0 then allowed = 0 end
  tokens = tokens - allowed
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(ts))
  redis.call('EXPIRE', key, ttl)
  granted[i] = allowed
end
return granted
"""

# Group type -> index in a hash per team; a new type takes the next free index, up to the maximum.
_GROUP_TYPES = """
local indexes = {}
local limit = tonumber(ARGV[1])
for i = 2, #ARGV do
  local index = redis.call('HGET', KEYS[1], ARGV[i])
  if not index then
    local used = redis.call('HLEN', KEYS[1])
    if used < limit then
      redis.call('HSET', KEYS[1], ARGV[i], used)
      index = used
    else
      index = -1
    end
  end
  indexes[i - 1] = tonumber(index)
end
return indexes
"""


class RedisTriggerStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._increment = redis.register_script(_INCREMENT)
        self._take_tokens = redis.register_script(_TAKE_TOKENS)
        self._group_types = redis.register_script(_GROUP_TYPES)

    async def increment_counters(self, increments: Sequence[CounterIncrement]) -> list[int] | None:
        if not increments:
            return []
        args: list[Any] = []
        for item in increments:
            args.extend((item.amount, item.ttl_seconds))
        try:
            values = await self._increment(keys=[item.key for item in increments], args=args)
        except (RedisError, OSError):
            logger.warning("app.ingest.masking_store_unavailable", exc_info=True)
            return None
        return [int(value) for value in values]

    async def take_tokens(self, costs: Sequence[tuple[str, int]], bucket: TokenBucket) -> list[int] | None:
        if not costs:
            return []
        args: list[Any] = [repr(time.time()), bucket.size, repr(bucket.refill_per_second), bucket.ttl_seconds]
        args.extend(cost for _, cost in costs)
        try:
            granted = await self._take_tokens(keys=[key for key, _ in costs], args=args)
        except (RedisError, OSError):
            logger.warning("app.ingest.rate_limit_store_unavailable", exc_info=True)
            return None
        return [int(value) for value in granted]

    async def group_type_indexes(self, team_id: int, group_types: Sequence[str]) -> dict[str, int]:
        if not group_types:
            return {}
        key = f"hogflows:ingest:group-types:{team_id}"
        try:
            indexes = await self._group_types(keys=[key], args=[MAX_GROUP_TYPES, *group_types])
        except (RedisError, OSError):
            logger.warning("app.ingest.group_types_unavailable", exc_info=True)
            return {}
        return {group_type: int(index) for group_type, index in zip(group_types, indexes, strict=True) if index >= 0}
