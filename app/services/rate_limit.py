"""Per personal API key request limits, as PostHog's `BurstRateThrottle` and `SustainedRateThrottle`.

PostHog (`posthog/rate_limit.py`) throttles every API request made with a personal API key under two
DRF `SimpleRateThrottle`s keyed by the key's hash: `burst` 480/minute and `sustained` 4800/hour. Each
keeps a sliding log of request times; a request is refused when the log of the last `duration`
seconds already holds `limit` entries, and the wait it is told is
`(duration - (now - oldest)) / (limit - len(log) + 1)` seconds. Every throttle is checked (an allowed
one records the request even when another refuses it) and the longest wait wins; DRF rounds it up
for the `Retry-After` header and the message. Differences: the limits are settings instead of
PostHog's instance settings, there is no per-team allow list, and the check fails open (as PostHog's
does on errors) when Redis does not answer.

`RedisRateLimiter` keeps the logs in sorted sets (a Lua script, Redis's clock), so all API processes
share them, and asks Redis at most about once a second per key while the key is far from its limits
(see the class); `MemoryRateLimiter` is the embedded mode's in-process twin.
"""

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    scope: str
    limit: int
    seconds: int


def parse_rate(scope: str, text: str) -> Rate | None:
    """DRF's format: `480/minute`, `4800/hour`, `10/s` (the period's first letter counts); empty = off."""
    if not text.strip():
        return None
    number, _, period = text.strip().partition("/")
    seconds = _PERIODS.get(period.strip()[:1].lower())
    if not number.strip().isdigit() or seconds is None:
        raise ValueError(f"invalid rate {text!r}: expected e.g. 480/minute")
    return Rate(scope, int(number), seconds)


def api_rates(settings: "Settings") -> list[Rate]:
    rates = [parse_rate("burst", settings.api_rate_limit_burst)]
    rates.append(parse_rate("sustained", settings.api_rate_limit_sustained))
    return [rate for rate in rates if rate is not None]


def wait_seconds(rate: Rate, count: int, oldest: float, now: float) -> float:
    remaining = rate.seconds - (now - oldest) if count else rate.seconds
    return remaining / max(1, rate.limit - count + 1)


class RateLimiter(Protocol):
    async def hit(self, ident: str, rates: Sequence[Rate]) -> float | None:
        """Record a request by `ident`; None if every rate allows it, else the seconds to wait."""
        ...


class MemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_idents: int = 100_000) -> None:
        self.clock = clock
        self.max_idents = max_idents
        self._logs: dict[tuple[str, str], deque[float]] = {}

    async def hit(self, ident: str, rates: Sequence[Rate]) -> float | None:
        now = self.clock()
        waits = []
        for rate in rates:
            history = self._logs.setdefault((rate.scope, ident), deque())
            while history and history[0] <= now - rate.seconds:
                history.popleft()
            if len(history) >= rate.limit:
                waits.append(wait_seconds(rate, len(history), history[0], now))
            else:
                history.append(now)
        if len(self._logs) > self.max_idents:
            self._logs = {key: log for key, log in self._logs.items() if log and log[-1] > now - 86400}
        return max(waits) if waits else None


# KEYS: one sorted set per rate. ARGV: a unique member, the number of (age in seconds, count) pairs of the
# requests admitted locally since the last call and those pairs, then limit and seconds per rate. The
# admitted ones are recorded whatever the outcome (they happened); the current request is then decided.
# Returns per rate its wait as a string ("" = allowed) and how many requests the window still has room for.
# Redis's clock.
_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local groups = tonumber(ARGV[2])
local rates_at = 2 + 2 * groups
local out = {}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[rates_at + 2 * i - 1])
  local seconds = tonumber(ARGV[rates_at + 2 * i])
  for j = 1, groups do
    local at = now - tonumber(ARGV[1 + 2 * j])
    for k = 1, tonumber(ARGV[2 + 2 * j]) do
      redis.call('ZADD', key, at, ARGV[1] .. ':' .. j .. ':' .. k)
    end
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - seconds)
  local count = redis.call('ZCARD', key)
  if count < limit then
    redis.call('ZADD', key, now, ARGV[1])
    out[2 * i - 1] = ''
    out[2 * i] = limit - count - 1
  else
    local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
    local remaining = seconds - (now - oldest)
    out[2 * i - 1] = tostring(remaining / math.max(1, limit - count + 1))
    out[2 * i] = 0
  end
  redis.call('EXPIRE', key, seconds)
end
return out
"""


@dataclass
class _Allowance:
    """Requests a process may admit without asking Redis, until `until` (its clock)."""

    until: float
    left: int
    # How many when (its clock, to the hundredth of a second: an argument per request cost some 5% of a
    # cached read); recorded in Redis with the next call.
    admitted: dict[float, int]


class RedisRateLimiter:
    """The shared logs in Redis, asked at most once a second per key while the key is far from its limits.

    A round-trip per request costs more than the rest of a cached read, so after Redis allows a request the
    process may admit up to a tenth of the smallest limit (never more than the windows still hold) for
    `slack_seconds` on its own; those requests are added to the logs, at their times (to the hundredth of a
    second), by the next call. Across processes a key may so exceed a limit by at most a tenth of it per
    process; limits under 10 are asked every time, so small limits stay exact.
    """

    def __init__(
        self,
        redis: Any,
        prefix: str = "hogflows:throttle",
        *,
        clock: Callable[[], float] = time.monotonic,
        slack_seconds: float = 1.0,
        max_idents: int = 100_000,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self.slack_seconds = slack_seconds
        self.max_idents = max_idents
        self._script = redis.register_script(_SCRIPT)
        self._allowances: dict[str, _Allowance] = {}

    async def hit(self, ident: str, rates: Sequence[Rate]) -> float | None:
        if not rates:
            return None
        now = self.clock()
        allowance = self._allowances.get(ident)
        if allowance is not None and allowance.left > 0 and now < allowance.until:
            allowance.left -= 1
            at = round(now, 2)
            allowance.admitted[at] = allowance.admitted.get(at, 0) + 1
            return None
        admitted = allowance.admitted if allowance is not None else {}
        keys = [f"{self.prefix}:{rate.scope}:{ident}" for rate in rates]
        args: list[Any] = [uuid.uuid4().hex, len(admitted)]
        for at, count in admitted.items():
            args += [max(0.0, now - at), count]
        for rate in rates:
            args += [rate.limit, rate.seconds]
        try:
            answers = await self._script(keys=keys, args=args)
        except Exception as error:  # a Redis outage must not take the API down with it
            log.warning("api rate limit unavailable, request allowed: %s", error)
            return None
        waits = [float(answer) for answer in answers[0::2] if answer not in (b"", "")]
        if waits:
            self._allowances.pop(ident, None)
            return max(waits)
        room = min(min(int(left) for left in answers[1::2]), *(rate.limit // 10 for rate in rates))
        if len(self._allowances) >= self.max_idents:
            self._allowances = {
                key: kept for key, kept in self._allowances.items() if kept.admitted or kept.until > now
            }
        self._allowances[ident] = _Allowance(until=now + self.slack_seconds, left=room, admitted={})
        return None
