"""Queueing runs on arq in bulk (`ArqScheduler.schedule_many`): arq's job shape and its job-id uniqueness."""

import uuid
from datetime import UTC, datetime

from arq import create_pool
from arq.connections import RedisSettings
from arq.jobs import Job

from app.worker.scheduling import RUN_TASK, RUNS_PER_JOB, ArqScheduler, job_id, schedule_runs


async def test_schedule_many_queues_arq_jobs_once_per_id(redis_url: str) -> None:
    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    queue = f"test-schedule-many:{uuid.uuid4().hex[:8]}"
    scheduler = ArqScheduler(redis, queue)
    first, second, third = (uuid.uuid4() for _ in range(3))
    now = datetime.now(UTC)
    try:
        await scheduler.schedule_many([first, second], 0, now)
        await scheduler.schedule_many([first, third], 0, now)  # `first` is queued already: skipped, as arq does
        queued = sorted(member.decode() for member in await redis.zrange(queue, 0, -1))
        assert queued == sorted(job_id(run, 0) for run in (first, second, third))
        info = await Job(job_id(first, 0), redis, _queue_name=queue).info()
        assert info is not None
        assert (info.function, info.args) == (RUN_TASK, (str(first),))
        assert info.score is not None and abs(info.score - now.timestamp() * 1000) < 2  # due now (arq: ms)
    finally:
        await redis.delete(queue, *(f"arq:job:{job_id(run, 0)}" for run in (first, second, third)))
        await redis.aclose()


async def test_runs_queued_together_get_a_job_per_few_runs(redis_url: str) -> None:
    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    queue = f"test-schedule-runs:{uuid.uuid4().hex[:8]}"
    runs = [uuid.uuid4() for _ in range(2 * RUNS_PER_JOB + 1)]
    try:
        await schedule_runs(ArqScheduler(redis, queue), runs, datetime.now(UTC))
        queued = {member.decode() for member in await redis.zrange(queue, 0, -1)}
        # One wake-up per RUNS_PER_JOB runs (a woken worker claims every due run it has room for).
        assert queued == {job_id(run, 0) for run in runs[::RUNS_PER_JOB]}
    finally:
        await redis.delete(queue, *(f"arq:job:{job_id(run, 0)}" for run in runs))
        await redis.aclose()


async def test_new_runs_due_now_queue_only_the_wake_ups_beyond_those_not_yet_started(redis_url: str) -> None:
    redis = await create_pool(RedisSettings.from_dsn(redis_url))
    queue = f"test-wake-ups:{uuid.uuid4().hex[:8]}"
    scheduler = ArqScheduler(redis, queue)
    first, second, third = ([uuid.uuid4() for _ in range(2 * RUNS_PER_JOB)] for _ in range(3))
    later = [uuid.uuid4()]
    try:
        await schedule_runs(scheduler, first, datetime.now(UTC))
        assert await redis.zcard(queue) == 2
        # Two wake-ups are queued and not started: they claim after these runs commit, so none is added.
        await schedule_runs(scheduler, second, datetime.now(UTC))
        assert await redis.zcard(queue) == 2
        info = await Job(job_id(first[0], 0), redis, _queue_name=queue).info()
        assert info is not None and info.kwargs == {"counted": True}
        await scheduler.woke()  # one of them started: its claim may come before the next runs commit
        await schedule_runs(scheduler, third, datetime.now(UTC))
        queued = {member.decode() for member in await redis.zrange(queue, 0, -1)}
        assert queued == {job_id(run, 0) for run in [*first[::RUNS_PER_JOB], third[RUNS_PER_JOB]]}
        for _ in range(5):  # started more often than counted (a count that expired): never below zero
            await scheduler.woke()
        assert await redis.get(scheduler.waking_key) is None
        # Runs due later are not wake-ups: always queued, never counted.
        await schedule_runs(scheduler, later, datetime(2100, 1, 1, tzinfo=UTC))
        assert await redis.zscore(queue, job_id(later[0], 0)) is not None
        assert await redis.get(scheduler.waking_key) is None
    finally:
        runs = [*first, *second, *third, *later]
        await redis.delete(queue, scheduler.waking_key, *(f"arq:job:{job_id(run, 0)}" for run in runs))
        await redis.aclose()
