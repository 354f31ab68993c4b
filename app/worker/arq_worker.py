"""The arq worker pool: `hogflows worker` runs this with settings from the environment."""

import asyncio
import contextlib
import dataclasses
import gc
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Function, Worker, func
from redis.exceptions import RedisError

from app.batch.tasks import batch_cron_jobs, batch_functions
from app.config import Settings
from app.crypto import warn_if_default_key
from app.db import json_codec
from app.db.session import create_engine, create_sessionmaker
from app.logging import configure_logging
from app.observability.outage import Outage
from app.worker.housekeeping import Housekeeper
from app.worker.pool import RunPool
from app.worker.processor import RunProcessor, sweep
from app.worker.scheduling import RUN_TASK, ArqScheduler

logger = structlog.get_logger("hogflows.worker")


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    configure_logging(settings.log_level, json_output=settings.log_json)
    warn_if_default_key(settings.secret_key, is_sqlite=settings.is_sqlite)
    engine = create_engine(settings.database_url, json_deserializer=json_codec.loads)
    sessionmaker = create_sessionmaker(engine)
    scheduler = ArqScheduler(ctx["redis"], settings.queue_name)
    processor = RunProcessor(
        sessionmaker, scheduler, settings=settings, lease=timedelta(seconds=settings.run_lease_seconds)
    )
    pool = RunPool(processor, concurrency=settings.worker_concurrency, team_cap=settings.team_concurrency_cap)
    pool.start()
    ctx.update(
        engine=engine,
        sessionmaker=sessionmaker,
        scheduler=scheduler,
        processor=processor,
        pool=pool,
        housekeeper=Housekeeper(sessionmaker, settings),
    )
    logger.info(
        "worker started",
        queue=settings.queue_name,
        owner=processor.owner,
        concurrency=settings.worker_concurrency,
        team_cap=pool.team_cap,
        lease_seconds=settings.run_lease_seconds,
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    pool: RunPool | None = ctx.get("pool")
    if pool is not None:
        await pool.close(settings.shutdown_grace_seconds)
    if "engine" in ctx:
        await ctx["engine"].dispose()
    logger.info("worker shutting down")


async def run_hog_flow(ctx: dict[str, Any], run_id: str, counted: bool = False) -> None:
    """A job only wakes this worker's pool: it claims due runs (this one among them) fairly from PostgreSQL.
    A pickup that fails is logged by the pool with its run; the sweeper queues the run again. A `counted`
    wake-up leaves the count of queued ones first (app/worker/scheduling.py), so its claim comes after."""
    if counted:
        scheduler: ArqScheduler = ctx["scheduler"]
        with contextlib.suppress(RedisError):  # an uncounted start costs at most a skipped job for a while
            await scheduler.woke()
    pool: RunPool = ctx["pool"]
    pool.kick()


async def sweep_due_runs(ctx: dict[str, Any]) -> int:
    settings: Settings = ctx["settings"]
    ctx["pool"].kick()
    return await sweep(
        ctx["sessionmaker"], ctx["scheduler"], datetime.now(UTC), timedelta(seconds=settings.sweep_grace_seconds)
    )


async def housekeeping(ctx: dict[str, Any]) -> None:
    await ctx["housekeeper"].run_once()


def _paused_while_down(job: CronJob) -> CronJob:
    """A periodic job that pauses, with one log line, while the database or Redis is down."""
    outage = Outage(job.name)
    work = job.coroutine

    async def guarded(ctx: dict[str, Any]) -> Any:
        if outage.waiting():
            return None
        try:
            result = await work(ctx)
        except Exception as error:
            outage.failed(error)
            return None
        outage.recovered()
        return result

    return dataclasses.replace(job, coroutine=guarded)


def worker_settings(settings: Settings) -> dict[str, Any]:
    """arq settings as keyword arguments for `arq.worker.Worker` (one place for CLI and tests)."""
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is required for `hogflows worker`")
    functions: list[Function] = [
        # No stored result: a job id must be reusable as soon as the job ends (see scheduling.py).
        func(run_hog_flow, name=RUN_TASK, keep_result=0, max_tries=5, timeout=120),
        *batch_functions(settings),
    ]
    return {
        "functions": functions,
        "cron_jobs": [
            _paused_while_down(job)
            for job in (
                cron(
                    sweep_due_runs,
                    second=set(range(0, 60, settings.sweep_interval_seconds)),
                    keep_result=0,
                    run_at_startup=True,
                ),
                *batch_cron_jobs(settings),
            )
        ]
        + [cron(housekeeping, second=set(range(0, 60, settings.sweep_interval_seconds)), keep_result=0)],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.queue_name,
        "ctx": {"settings": settings},
        "max_jobs": settings.worker_concurrency,
        "keep_result": 0,
        "poll_delay": 0.2,
        # Signals are ours (`run_worker`): the run pool drains before arq cancels anything.
        "handle_signals": False,
    }


async def check_redis(redis_url: str) -> None:
    """Fail at start, in one line, when Redis does not answer (arq would retry and print tracebacks)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, socket_connect_timeout=5)
    try:
        await client.ping()
    finally:
        await client.aclose()


# Allocations between two collections of the youngest generation: a pickup allocates thousands of short-lived
# objects, and at Python's default (700) a collection ran every few pickups (several per cent of a burst's CPU).
GC_YOUNG_THRESHOLD = 10_000


def tune_collector() -> None:
    """For the long-lived worker process: what start-up loaded (modules, templates) is frozen, so full
    collections do not walk it again, and the young generation is collected less often."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


def run_worker(settings: Settings) -> None:
    """`hogflows worker`: arq with a graceful stop.

    On SIGTERM or SIGINT the worker stops taking queue jobs, lets the run pool's pickups finish for up to
    `HOGFLOWS_SHUTDOWN_GRACE` and gives back the runs it did not finish (`RunPool.close`), and only then
    lets arq cancel its own tasks (batch slices, crons) and close.
    """
    worker = Worker(**worker_settings(settings))
    stopping: list[asyncio.Task[None]] = []
    tune_collector()

    async def stop(signum: signal.Signals) -> None:
        pool: RunPool | None = worker.ctx.get("pool")
        if pool is not None:
            await pool.close(settings.shutdown_grace_seconds)
        worker.handle_sig(signum)

    def on_signal(signum: signal.Signals) -> None:
        logger.info("app.worker.stopping", signal=signum.name)
        if not stopping:
            worker.allow_pick_jobs = False
            stopping.append(worker.loop.create_task(stop(signum)))

    for signum in (signal.SIGINT, signal.SIGTERM):
        worker.loop.add_signal_handler(signum, on_signal, signum)
    try:
        worker.run()
    except asyncio.CancelledError:
        # arq's close() re-raises the cancellation of a job it cut short (a cron or a batch slice) before it
        # calls on_shutdown. By then every run has been stored or handed back; the engine still needs closing.
        worker.loop.run_until_complete(shutdown(worker.ctx))
