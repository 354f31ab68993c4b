"""The arq worker pool: `hogflows worker` runs this with settings from the environment."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Function, func

from app.batch.tasks import batch_cron_jobs, batch_functions
from app.config import Settings
from app.db.session import create_engine, create_sessionmaker
from app.logging import configure_logging
from app.worker.processor import RunProcessor, sweep
from app.worker.scheduling import RUN_TASK, ArqScheduler


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    configure_logging(settings.log_level, json_output=settings.log_json)
    engine = create_engine(settings.database_url)
    sessionmaker = create_sessionmaker(engine)
    scheduler = ArqScheduler(ctx["redis"], settings.queue_name)
    ctx.update(
        engine=engine,
        sessionmaker=sessionmaker,
        scheduler=scheduler,
        processor=RunProcessor(sessionmaker, scheduler, settings=settings),
    )


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


async def run_hog_flow(ctx: dict[str, Any], run_id: str) -> str | None:
    processor: RunProcessor = ctx["processor"]
    return await processor.process(UUID(run_id))


async def sweep_due_runs(ctx: dict[str, Any]) -> int:
    settings: Settings = ctx["settings"]
    return await sweep(
        ctx["sessionmaker"], ctx["scheduler"], datetime.now(UTC), timedelta(seconds=settings.sweep_grace_seconds)
    )


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
            cron(
                sweep_due_runs,
                second=set(range(0, 60, settings.sweep_interval_seconds)),
                keep_result=0,
                run_at_startup=True,
            ),
            *batch_cron_jobs(settings),
        ],
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
