"""Handing due runs to workers: arq jobs on Redis, or a wake-up of the in-process runner.

A job carries only the run id; its id includes the pickup number, so a job for the same pickup is
never queued twice, and a lost job (Redis flushed, worker killed) is simply queued again by the sweeper.

A job only wakes a worker, which then claims due runs from PostgreSQL and keeps claiming as its pickups
end (app/worker/pool.py): new runs queued together get one job per `RUNS_PER_JOB` of them, enough to wake
as many workers as they can keep busy, not a job per run that each worker would fetch from Redis for nothing.
New runs due now also count the wake-up jobs already queued and not yet started (a counter beside the
queue, decremented by a job as it starts, before its worker claims): those will claim after the runs
committed, so only the wake-ups beyond them are queued. Under a burst that is a few jobs a second instead
of one per capture group, each costing a worker arq's Redis round-trips. The counter expires
(`WAKING_TTL_MS`), so a count left by jobs that never ran only saves jobs for that long.
"""

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import structlog
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms

logger = structlog.get_logger(__name__)

RUN_TASK = "run_hog_flow"

# Runs queued per round-trip (one script call on arq; the embedded scheduler only wakes its runner).
SCHEDULE_CHUNK = 200
# New runs queued together get a wake-up job per this many: half a worker's default concurrency.
RUNS_PER_JOB = 10


def job_id(run_id: UUID, pickups: int, retry_key: str | None = None) -> str:
    base = f"hogflow-run:{run_id}:{pickups}"
    return f"{base}:{retry_key}" if retry_key else base


class Scheduler(Protocol):
    async def schedule(self, run_id: UUID, pickups: int, when: datetime, retry_key: str | None = None) -> None:
        """`retry_key` gives a stuck run a fresh job id: the old one may be held by a job that died with its worker."""


WAKING_TTL_MS = 10_000

# arq's `enqueue_job` for many jobs in one round-trip: a job whose id is queued or has a result is skipped,
# as arq does (it checks under WATCH; a script is atomic anyway). With ARGV[1] = '1' the jobs are wake-ups
# counted in KEYS[2]: as many as are counted there already are not queued. KEYS: the queue, the counter,
# then each job's job key and result key; ARGV: the flag, the counter's expiry (ms), then per job its id,
# score, expiry (ms) and serialized payload.
_ENQUEUE_MANY = """
local counted = ARGV[1] == '1'
local skip = 0
if counted then skip = tonumber(redis.call('GET', KEYS[2]) or '0') end
local queued = 0
for i = skip, ((#ARGV - 2) / 4) - 1 do
  local job_key, result_key = KEYS[3 + 2 * i], KEYS[4 + 2 * i]
  if redis.call('EXISTS', job_key, result_key) == 0 then
    redis.call('PSETEX', job_key, ARGV[5 + 4 * i], ARGV[6 + 4 * i])
    redis.call('ZADD', KEYS[1], ARGV[4 + 4 * i], ARGV[3 + 4 * i])
    queued = queued + 1
  end
end
if counted and queued > 0 then
  redis.call('INCRBY', KEYS[2], queued)
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return queued
"""

# A counted wake-up job starting: one fewer queued (never below zero).
_WOKE = """
if redis.call('DECR', KEYS[1]) < 0 then redis.call('DEL', KEYS[1]) end
"""


class ArqScheduler:
    def __init__(self, redis: ArqRedis, queue_name: str) -> None:
        self.redis = redis
        self.queue_name = queue_name
        self.waking_key = f"{queue_name}:hogflows-waking"
        self._enqueue_many = redis.register_script(_ENQUEUE_MANY)
        self._woke = redis.register_script(_WOKE)

    async def schedule_many(
        self, run_ids: Sequence[UUID], pickups: int, when: datetime, *, wake_ups: bool = False
    ) -> None:
        """`schedule` for several runs at the same pickup number, in one round-trip. `wake_ups`: the jobs
        are counted wake-ups for runs due now, of which those already queued are not queued again."""
        if not run_ids:
            return
        enqueued_at = timestamp_ms()
        score = to_unix_ms(when)
        counted = wake_ups and score <= enqueued_at
        expires = max(score - enqueued_at, 0) + self.redis.expires_extra_ms
        keys: list[str] = [self.queue_name, self.waking_key]
        args: list[str | int | bytes] = ["1" if counted else "0", WAKING_TTL_MS]
        kwargs = {"counted": True} if counted else {}
        for run_id in run_ids:
            job = job_id(run_id, pickups)
            keys += [job_key_prefix + job, result_key_prefix + job]
            payload = serialize_job(
                RUN_TASK, (str(run_id),), kwargs, None, enqueued_at, serializer=self.redis.job_serializer
            )
            args += [job, score, expires, payload]
        await self._enqueue_many(keys=keys, args=args)

    async def woke(self) -> None:
        """A counted wake-up job has started: call before its worker claims."""
        await self._woke(keys=[self.waking_key])

    async def schedule(self, run_id: UUID, pickups: int, when: datetime, retry_key: str | None = None) -> None:
        await self.redis.enqueue_job(
            RUN_TASK,
            str(run_id),
            _job_id=job_id(run_id, pickups, retry_key),
            _defer_until=when,
            _queue_name=self.queue_name,
        )


class WakeUpScheduler:
    """The embedded runner polls the database; scheduling only wakes its run pool early.

    `wake` is the batch loop's event (set by `WakeUpBatchQueue`); `on_schedule` is the run pool's kick.
    """

    def __init__(self, on_schedule: Callable[[], None] | None = None) -> None:
        self.wake = asyncio.Event()
        self.on_schedule = on_schedule

    async def schedule(self, run_id: UUID, pickups: int, when: datetime, retry_key: str | None = None) -> None:
        if self.on_schedule is not None:
            self.on_schedule()


async def schedule_runs(scheduler: Scheduler, run_ids: Sequence[UUID], when: datetime) -> None:
    """Queue new runs' first pickup (0), `SCHEDULE_CHUNK` at a time, once the transaction that created
    them has committed. The one way in for event, webhook, batch and scheduled runs.

    A failure is only logged, never raised: the runs are due in PostgreSQL and the sweeper queues them
    anyway, a few seconds later, so a Redis hiccup must not fail the request or the batch slice."""
    for start in range(0, len(run_ids), SCHEDULE_CHUNK):
        chunk = run_ids[start : start + SCHEDULE_CHUNK]
        if isinstance(scheduler, ArqScheduler):
            results: list[BaseException | None] = [None]
            try:
                await scheduler.schedule_many(chunk[::RUNS_PER_JOB], 0, when, wake_ups=True)
            except Exception as error:
                results = [error]
        else:
            results = await asyncio.gather(
                *(scheduler.schedule(run_id, 0, when) for run_id in chunk), return_exceptions=True
            )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            logger.warning("app.worker.enqueue_failed", failed=len(failures), error=str(failures[0]))


async def schedule_woken_runs(scheduler: Scheduler, runs: Sequence[tuple[UUID, int]], when: datetime) -> None:
    """Queue parked runs an event woke. Their deferred job (same pickup number) is still queued for
    the deadline, so the wake-up needs a job id of its own. Failures are logged: the runs are due in
    PostgreSQL and the sweeper queues them after its grace."""
    retry_key = f"wake-{int(when.timestamp() * 1000)}"
    results = await asyncio.gather(
        *(scheduler.schedule(run_id, pickups, when, retry_key=retry_key) for run_id, pickups in runs),
        return_exceptions=True,
    )
    failures = [result for result in results if isinstance(result, BaseException)]
    if failures:
        logger.warning("app.worker.wake_failed", failed=len(failures), error=str(failures[0]))
