"""The arq worker pool: `hogflows worker` runs this with settings from the environment."""

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from arq import cron
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Function, Retry, func
from sqlalchemy.exc import SQLAlchemyError

from app.batch.tasks import batch_cron_jobs, batch_functions
from app.config import Settings
from app.crypto import warn_if_default_key
from app.db.session import create_engine, create_sessionmaker
from app.logging import configure_logging, database_error_summary
from app.observability.errors import operator_error
from app.observability.outage import Outage
from app.worker.housekeeping import Housekeeper
from app.worker.processor import RunProcessor, sweep
from app.worker.scheduling import RUN_TASK, ArqScheduler

logger = structlog.get_logger("hogflows.worker")


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    configure_logging(settings.log_level, json_output=settings.log_json)
    warn_if_default_key(settings.secret_key, is_sqlite=settings.is_sqlite)
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    scheduler = ArqScheduler(ctx["redis"], settings.queue_name)
    ctx.update(
        engine=engine,
        sessionmaker=sessionmaker,
        scheduler=scheduler,
        processor=RunProcessor(sessionmaker, scheduler, settings=settings),
        housekeeper=Housekeeper(sessionmaker, settings),
    )
    logger.info("worker started", queue=settings.queue_name, max_jobs=settings.worker_concurrency)


async def shutdown(ctx: dict[str, Any]) -> None:
    if "engine" in ctx:
        await ctx["engine"].dispose()
    logger.info("worker shutting down")


async def run_hog_flow(ctx: dict[str, Any], run_id: str) -> str | None:
    processor: RunProcessor = ctx["processor"]
    try:
        return await processor.process(UUID(run_id))
    except Exception as error:
        # Logged here, once, with its run (arq's line would name only the job). The run is not lost: the
        # sweeper queues it again once its lease expires, and a database or Redis outage retries sooner.
        message = operator_error(error)
        if message is None:
            if isinstance(error, SQLAlchemyError):
                # A driver's message quotes the values it refused: the types and the place only.
                logger.error("pickup failed", run_id=run_id, **database_error_summary(error))
            else:
                logger.exception("pickup failed", run_id=run_id)
            return None
        logger.error(f"pickup failed: {message}", run_id=run_id)
        raise Retry(defer=timedelta(seconds=5 * ctx.get("job_try", 1))) from error


async def sweep_due_runs(ctx: dict[str, Any]) -> int:
    settings: Settings = ctx["settings"]
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
        "handle_signals": True,
    }


async def check_redis(redis_url: str) -> None:
    """Fail at start, in one line, when Redis does not answer (arq would retry and print tracebacks)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, socket_connect_timeout=5)
    try:
        await client.ping()
    finally:
        await client.aclose()
