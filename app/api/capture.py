"""PostHog's capture endpoints: `/capture/`, `/batch/`, `/e/`, `/i/v0/e/` (with or without the slash).

Authenticated by the project token (`api_key` / `token` in the body, the query string, or the events'
properties). Answers `{"status": 1}`; refusals use PostHog's `{type, code, detail, attr}` shape.

`CaptureFastPath` serves their POSTs ahead of FastAPI's routing (the app's innermost middleware, see
app/main.py); the routes below stay for GET, OPTIONS and the OpenAPI document, and answer the same.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db.base import utcnow
from app.db.repositories.tenancy import TenancyRepository
from app.db.session import session_scope
from app.ingest.batching import IngestBatcher
from app.ingest.errors import CaptureError, invalid_token, missing_token
from app.ingest.events import normalize_event
from app.ingest.payloads import decode_capture

router = APIRouter(tags=["capture"])

CAPTURE_PATHS = ("/capture", "/batch", "/e", "/i/v0/e")


def _cors_headers(request: Request) -> dict[str, str]:
    # Browser SDKs post from other origins; PostHog echoes the origin back.
    origin = request.headers.get("origin")
    if not origin:
        return {"Access-Control-Allow-Origin": "*"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def _error(request: Request, error: CaptureError) -> JSONResponse:
    body = {"type": error.type, "code": error.code, "detail": error.detail, "attr": None}
    return JSONResponse(body, status_code=error.status_code, headers=_cors_headers(request))


def _batcher(request: Request) -> IngestBatcher:
    """The app's group commit for captures, made on first use for the app's current services."""
    state = request.app.state
    batcher: IngestBatcher | None = getattr(state, "ingest_batcher", None)
    if batcher is None or batcher.services is not state.ingest or batcher.scheduler is not state.scheduler:
        batcher = state.ingest_batcher = IngestBatcher(state.sessionmaker, state.ingest, state.scheduler)
    return batcher


async def capture(request: Request) -> Response:
    """Ingest one event or a batch; matching active flows start runs (queued once their transaction commits)."""
    now = utcnow()
    try:
        decoded = decode_capture(
            await request.body(),
            content_type=request.headers.get("content-type", ""),
            content_encoding=request.headers.get("content-encoding", ""),
            query=dict(request.query_params),
            max_inflated_bytes=request.app.state.settings.max_capture_inflated_bytes,
        )
        if not decoded.token:
            raise missing_token()
        teams = request.app.state.ingest.teams
        team = teams.cached(decoded.token)
        if team is None:
            async with session_scope(request.app.state.sessionmaker) as session:
                team = await teams.get(TenancyRepository(session), decoded.token)
        if team is None:
            raise invalid_token()
        events = [normalize_event(raw, sent_at=decoded.sent_at, now=now) for raw in decoded.events]
        await _batcher(request).ingest(team, events)
    except CaptureError as error:
        return _error(request, error)
    return JSONResponse({"status": 1}, headers=_cors_headers(request))


async def preflight(request: Request) -> Response:
    headers = {
        **_cors_headers(request),
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": request.headers.get("access-control-request-headers", "content-type"),
        "Access-Control-Max-Age": "86400",
    }
    return Response(status_code=200, headers=headers)


_CAPTURE_BODY: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "An event, or {api_key, batch: [events]}"},
                "example": {
                    "api_key": "phc_...",
                    "batch": [{"event": "signed_up", "distinct_id": "user-1", "properties": {"$set": {"plan": "pro"}}}],
                },
            }
        }
    }
}


def _register() -> None:
    for path in CAPTURE_PATHS:
        name = path.strip("/").replace("/", "_")
        for variant in (path + "/", path):
            documented = variant.endswith("/")
            router.add_api_route(
                variant,
                capture,
                methods=["POST"],
                response_model=None,
                include_in_schema=documented,
                summary=f"Capture events ({path}/)",
                operation_id=f"capture_{name}" if documented else None,
                openapi_extra=_CAPTURE_BODY,
            )
            # posthog-js can send `?data=<base64>` as a GET (e.g. from an image beacon).
            router.add_api_route(variant, capture, methods=["GET"], response_model=None, include_in_schema=False)
            router.add_api_route(variant, preflight, methods=["OPTIONS"], include_in_schema=False)


_register()

_FAST_PATHS = frozenset(variant for path in CAPTURE_PATHS for variant in (path, path + "/"))


class CaptureFastPath:
    """ASGI middleware: `POST` on a capture path goes straight to `capture`.

    FastAPI would first match the path against every route of the app and run its request machinery;
    capture, the busiest endpoint by far, needs neither. Installed as the innermost middleware, so request
    ids, the access log, HTTP metrics and the body cap apply as before. An exception is answered by the
    app's handler for its type (a database that does not answer is a 503), as FastAPI's routing would;
    anything else propagates to the request middleware (500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in _FAST_PATHS:
            await self.app(scope, receive, send)
            return
        scope["endpoint"] = capture  # the request middleware labels metrics by it
        request = Request(scope, receive)
        try:
            response = await capture(request)
        except Exception as error:
            handler = _exception_handler(scope["app"].exception_handlers, error)
            if handler is None:
                raise
            response = await handler(request, error)
        await response(scope, receive, send)


def _exception_handler(handlers: dict[Any, Any], error: Exception) -> Any:
    # Starlette's lookup, by the error's class hierarchy; the catch-all `Exception` handler sits in the
    # outermost layer, after the request middleware, and is left to it.
    for cls in type(error).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
