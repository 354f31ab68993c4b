"""PostHog's capture endpoints: `/capture/`, `/batch/`, `/e/`, `/i/v0/e/` (with or without the slash).

Authenticated by the project token (`api_key` / `token` in the body, the query string, or the events'
properties). Answers `{"status": 1}`; refusals use PostHog's `{type, code, detail, attr}` shape.

`CaptureFastPath` serves their POSTs ahead of FastAPI's routing (the app's innermost middleware, see
app/main.py); the routes below stay for GET, OPTIONS and the OpenAPI document, and answer the same.
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from app.db import json_codec
from app.db.base import utcnow
from app.db.repositories.tenancy import TenancyRepository
from app.db.session import session_scope
from app.ingest.batching import IngestBatcher
from app.ingest.errors import CaptureError, invalid_token, missing_token
from app.ingest.events import normalize_event
from app.ingest.payloads import decode_capture

router = APIRouter(tags=["capture"])

CAPTURE_PATHS = ("/capture", "/batch", "/e", "/i/v0/e")


def _cors_headers(origin: str | None) -> dict[str, str]:
    # Browser SDKs post from other origins; PostHog echoes the origin back.
    if not origin:
        return {"Access-Control-Allow-Origin": "*"}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def _error_body(error: CaptureError) -> dict[str, Any]:
    return {"type": error.type, "code": error.code, "detail": error.detail, "attr": None}


def _batcher(app: FastAPI) -> IngestBatcher:
    """The app's group commit for captures, made on first use for the app's current services."""
    state = app.state
    batcher: IngestBatcher | None = getattr(state, "ingest_batcher", None)
    if batcher is None or batcher.services is not state.ingest or batcher.scheduler is not state.scheduler:
        batcher = state.ingest_batcher = IngestBatcher(state.sessionmaker, state.ingest, state.scheduler)
    return batcher


async def _ingest(
    app: FastAPI, body: bytes, *, content_type: str, content_encoding: str, query: Mapping[str, str]
) -> None:
    """Ingest one event or a batch; returns once committed (raises `CaptureError` for a refusal)."""
    now = utcnow()
    state = app.state
    decoded = decode_capture(
        body,
        content_type=content_type,
        content_encoding=content_encoding,
        query=query,
        max_inflated_bytes=state.settings.max_capture_inflated_bytes,
    )
    if not decoded.token:
        raise missing_token()
    teams = state.ingest.teams
    team = teams.cached(decoded.token)
    if team is None:
        async with session_scope(state.sessionmaker) as session:
            team = await teams.get(TenancyRepository(session), decoded.token)
    if team is None:
        raise invalid_token()
    events = [normalize_event(raw, sent_at=decoded.sent_at, now=now) for raw in decoded.events]
    await _batcher(app).ingest(team, events)


async def capture(request: Request) -> Response:
    """Ingest one event or a batch; matching active flows start runs (queued once their transaction commits)."""
    headers = _cors_headers(request.headers.get("origin"))
    try:
        await _ingest(
            request.app,
            await request.body(),
            content_type=request.headers.get("content-type", ""),
            content_encoding=request.headers.get("content-encoding", ""),
            query=dict(request.query_params),
        )
    except CaptureError as error:
        return JSONResponse(_error_body(error), status_code=error.status_code, headers=headers)
    return JSONResponse({"status": 1}, headers=headers)


async def preflight(request: Request) -> Response:
    headers = {
        **_cors_headers(request.headers.get("origin")),
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
    """ASGI middleware: `POST` on a capture path is served here, as `capture` would answer it.

    FastAPI would first match the path against every route of the app and run its request machinery
    (request and response objects, dependencies); capture, the busiest endpoint by far, needs none of
    it. Installed as the innermost middleware, so request ids, the access log, HTTP metrics and the body
    cap apply as before. An exception is answered by the app's handler for its type (a database that
    does not answer is a 503), as FastAPI's routing would; anything else propagates to the request
    middleware (500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in _FAST_PATHS:
            await self.app(scope, receive, send)
            return
        scope["endpoint"] = capture  # the request middleware labels metrics by it
        headers = dict(reversed(scope["headers"]))  # the first of a repeated header wins, as in `Request.headers`
        query_string = scope.get("query_string", b"").decode("latin-1")
        try:
            await _ingest(
                scope["app"],
                await _read_body(receive),
                content_type=headers.get(b"content-type", b"").decode("latin-1"),
                content_encoding=headers.get(b"content-encoding", b"").decode("latin-1"),
                query=dict(parse_qsl(query_string, keep_blank_values=True)) if query_string else {},
            )
            status, body = 200, _OK
        except CaptureError as error:
            status, body = error.status_code, json_codec.dumps(_error_body(error))
        except Exception as error:
            handler = _exception_handler(scope["app"].exception_handlers, error)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), error)
            await response(scope, receive, send)
            return
        origin = headers.get(b"origin")
        cors = _CORS_ANY if not origin else [*_CORS_ORIGIN, (b"access-control-allow-origin", origin)]
        raw_headers = [*cors, (b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


# `_cors_headers` as raw headers, and what JSONResponse writes for {"status": 1}.
_CORS_ANY = [(b"access-control-allow-origin", b"*")]
_CORS_ORIGIN = [(b"access-control-allow-credentials", b"true"), (b"vary", b"Origin")]
_OK = b'{"status":1}'


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _exception_handler(handlers: dict[Any, Any], error: Exception) -> Any:
    # Starlette's lookup, by the error's class hierarchy; the catch-all `Exception` handler sits in the
    # outermost layer, after the request middleware, and is left to it.
    for cls in type(error).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
