"""The application factory."""

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arq import create_pool
from arq.connections import RedisSettings
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.api import (
    activity_log,
    batch_jobs,
    capture,
    hog_flow_audience,
    hog_flow_drafts,
    hog_flow_global,
    hog_flow_invocations,
    hog_flow_observability,
    hog_flow_run_control,
    hog_flow_runs,
    hog_flows,
    hog_function_templates,
    integrations,
    persons,
    schedules,
    webhooks,
)
from app.api.errors import register_error_handlers
from app.api.middleware import AnswerOptions, BodySizeLimit, OptionalTrailingSlash, RejectUnstorableText, RouteMethods
from app.api.openapi import install_docs
from app.api.team_routes import TeamRoutes
from app.config import Settings, get_settings
from app.crypto import warn_if_default_key
from app.db import json_codec
from app.db.invalidation import relay
from app.db.session import create_engine, create_sessionmaker
from app.hog import parse_pool
from app.ingest.services import ingest_services
from app.ingest.vm_budget import GIL_SWITCH_SECONDS
from app.ingest.webhooks import warm_up as warm_up_templates
from app.logging import configure_logging, mask_access_log
from app.observability import health
from app.observability.requests import RequestContext
from app.services.principals import PrincipalCache
from app.services.rate_limit import MemoryRateLimiter, RedisRateLimiter, api_rates
from app.web import mount_web
from app.web.routes import router as web_router
from app.worker.embedded import EmbeddedRunner
from app.worker.scheduling import ArqScheduler, Scheduler

TEAM_PREFIXES = ("/api/environments/{team_id}", "/api/projects/{team_id}")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_output=settings.log_json)
    warn_if_default_key(settings.secret_key, is_sqlite=settings.is_sqlite)
    engine = create_engine(settings.database_url, json_deserializer=json_codec.loads)

    sessionmaker = create_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(warm_up_templates)
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        mask_access_log()  # again: uvicorn configures its loggers after the app is built
        async with run_scheduling(settings, sessionmaker) as scheduler:
            app.state.scheduler = scheduler
            app.state.ingest = ingest_services(settings, scheduler)
            app.state.rate_limiter = (
                RedisRateLimiter(scheduler.redis) if isinstance(scheduler, ArqScheduler) else MemoryRateLimiter()
            )
            # Other API processes drop their cached keys and flows as soon as this one commits a change.
            relaying = asyncio.create_task(relay(scheduler.redis)) if isinstance(scheduler, ArqScheduler) else None
            _freeze_start_up()
            try:
                yield
            finally:
                if relaying is not None:
                    relaying.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await relaying
        await asyncio.to_thread(parse_pool.stop)  # started by warm_up_templates
        await engine.dispose()

    app = FastAPI(
        title="hogflows",
        version="0.1.0",
        description="PostHog-compatible Hog Flows (Workflows) API. Authenticate with "
        "`Authorization: Bearer <personal API key>`.",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
        # No OpenTelemetry here: without this FastAPI asks for its providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_docs(app)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    # GET and HEAD read without BEGIN/COMMIT (two round-trips fewer); a write they make commits by itself.
    app.state.read_engine = engine if settings.is_sqlite else engine.execution_options(isolation_level="AUTOCOMMIT")
    app.state.read_sessionmaker = sessionmaker if settings.is_sqlite else create_sessionmaker(app.state.read_engine)
    app.state.principals = PrincipalCache(settings.api_auth_cache_seconds)
    app.state.api_rates = api_rates(settings)
    register_error_handlers(app)
    health.register_unavailable_handlers(app)
    route_methods = RouteMethods()
    route_methods.add_routes(app.router.routes)  # /docs, /openapi.json
    team_routers = (
        # Before `/hog_flows/{flow_id}/…`, so `metrics/global` is never read as a flow id.
        hog_flow_global.router,
        activity_log.router,
        hog_flows.router,
        hog_flow_drafts.router,
        hog_flow_observability.router,
        hog_flow_runs.router,
        hog_flow_run_control.router,
        hog_flow_invocations.router,
        hog_flow_audience.router,
        batch_jobs.router,
        schedules.router,
        persons.router,
        hog_function_templates.router,
        integrations.router,
    )
    for prefix in TEAM_PREFIXES:
        app.include_router(TeamRoutes(prefix, team_routers), prefix=prefix)
        for router in team_routers:
            route_methods.add_routes(router.routes, prefix)
    # Routes are matched in order: probes and scrapes, a few a minute, after the API.
    for router in (capture.router, webhooks.router, health.router):
        app.include_router(router)
        route_methods.add_routes(router.routes)
    mount_web(app)
    route_methods.add_routes(web_router.routes)
    app.add_middleware(capture.CaptureFastPath)  # innermost: capture's POSTs skip the routing
    app.add_middleware(AnswerOptions, routes=route_methods)
    app.add_middleware(OptionalTrailingSlash)
    app.add_middleware(RejectUnstorableText)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(RequestContext, access_log=settings.access_log)  # outermost: sees every answer
    return app


_frozen = False


def _freeze_start_up() -> None:
    """What start-up loaded (modules, routes, templates) lives as long as the process: the collector need
    not walk it on every full collection. Once per process: a test session starts many apps, and what is
    frozen is never collected."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


@asynccontextmanager
async def run_scheduling(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Scheduler]:
    """With Redis, new runs go to the worker pool; without, an in-process runner executes them."""
    if settings.redis_url:
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        try:
            yield ArqScheduler(redis, settings.queue_name)
        finally:
            await redis.aclose()
        return
    runner = EmbeddedRunner(sessionmaker, settings)
    runner.start()
    try:
        yield runner.scheduler
    finally:
        await runner.stop()
