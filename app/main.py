"""The application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import hog_flows
from app.api.errors import register_error_handlers
from app.api.middleware import BodySizeLimit, OptionalTrailingSlash
from app.config import Settings, get_settings
from app.db.session import create_engine, create_sessionmaker
from app.logging import configure_logging

TEAM_PREFIXES = ("/api/environments/{team_id}", "/api/projects/{team_id}")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_output=settings.log_json)
    engine = create_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title="hogflows",
        version="0.1.0",
        description="PostHog-compatible Hog Flows (Workflows) API. Authenticate with "
        "`Authorization: Bearer <personal API key>`.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    register_error_handlers(app)
    for prefix in TEAM_PREFIXES:
        app.include_router(hog_flows.router, prefix=prefix)
    app.add_middleware(OptionalTrailingSlash)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes)
    return app
