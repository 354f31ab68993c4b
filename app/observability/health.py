"""Liveness, readiness and the metrics scrape, under PostHog's names (`/_health`, `/_readyz`).

`/_health` answers as long as the process serves requests. `/_readyz` answers 200 only when the database
answers, its schema is at this code's head revision, and Redis answers (when `REDIS_URL` is set);
otherwise 503 with each check's result, so the operator sees what failed.
"""

import asyncio
import socket
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.migrate import head_revision, schema_revision
from app.observability import metrics
from app.observability.errors import operator_error

# A probe that hangs is worse than one that fails: the orchestrator's own timeout gives no reason.
CHECK_TIMEOUT_SECONDS = 3.0

logger = structlog.get_logger("hogflows.http")
router = APIRouter(include_in_schema=False)


@router.get("/_health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/_readyz")
async def readyz(request: Request) -> JSONResponse:
    settings = request.app.state.settings
    checks: dict[str, str] = {"database": await _check(_database(request.app.state.engine))}
    if settings.redis_url:
        checks["redis"] = await _check(_redis(settings.redis_url))
    ready = all(result == "ok" for result in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


async def _check(probe: Any) -> str:
    try:
        return str(await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS))
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as error:
        return operator_error(error) or f"{type(error).__name__}: {error}"


async def _database(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    current, head = await schema_revision(engine), head_revision()
    if current != head:
        return f"schema at {current or 'nothing'}, expected {head}: run `hogflows migrate`"
    return "ok"


async def _redis(url: str) -> str:
    client = Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS)
    try:
        await client.ping()
    except RuntimeError as error:
        # asyncio's "the handler is closed" when Redis (or a proxy in front of it) hangs up mid-connect.
        raise RedisConnectionError(str(error)) from error
    finally:
        await client.aclose()
    return "ok"


_UNAVAILABLE: tuple[type[Exception], ...] = (
    DBAPIError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


async def _service_unavailable(_request: Request, error: Exception) -> JSONResponse:
    message = operator_error(error)
    if message is None:
        raise error  # a bug after all: the request middleware logs its traceback once
    logger.warning(message)
    body = {"type": "server_error", "code": "service_unavailable", "detail": message, "attr": None}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


def register_unavailable_handlers(app: FastAPI) -> None:
    """A database or Redis that does not answer is a 503 with one log line, not a 500 with a traceback."""
    for error_class in _UNAVAILABLE:
        app.add_exception_handler(error_class, _service_unavailable)
