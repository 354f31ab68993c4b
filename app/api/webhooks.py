"""`/public/webhooks/{flow_id}`: webhook, manual and tracking-pixel triggers of active flows (no auth but
the trigger's own `auth_header` input)."""

import json
import uuid
from typing import Any
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response

from app.crypto import SecretBox
from app.db.base import utcnow
from app.db.session import session_scope
from app.ingest.sanitize import storable
from app.ingest.webhook_trigger import NOT_FOUND, trigger_webhook
from app.ingest.webhooks import IncomingRequest, InvalidBody, SourceOutcome, parse_body
from app.worker.scheduling import schedule_runs

router = APIRouter(tags=["webhooks"])

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _response(outcome: SourceOutcome) -> Response:
    body = outcome.body
    if isinstance(body, bytes):
        content = body
    elif isinstance(body, str) and outcome.content_type != "application/json":
        content = body.encode()
    else:
        content = json.dumps(body).encode()
    headers = {"Access-Control-Allow-Origin": "*"}
    if outcome.content_type == "image/gif":
        headers["Cache-Control"] = "no-cache, no-store, must-revalidate"
    return Response(content, status_code=outcome.status, media_type=outcome.content_type, headers=headers)


def _parse_flow_id(value: str) -> UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def webhook(request: Request, background: BackgroundTasks, flow_id: str) -> Response:
    """Start a run of an active webhook / manual / tracking-pixel flow from this request."""
    now = utcnow()
    parsed_id = _parse_flow_id(flow_id)
    if parsed_id is None:
        return _response(NOT_FOUND)
    raw = await request.body()
    try:
        body = parse_body(raw, request.headers.get("content-type", ""))
    except InvalidBody:
        return _response(SourceOutcome(400, {"error": "Invalid JSON body"}))
    incoming = IncomingRequest(
        method=request.method,
        headers=storable({name.lower(): value for name, value in request.headers.items()}),
        body=body,
        string_body=raw.decode("utf-8", "replace"),
        query=storable(dict(request.query_params)),
        ip=request.client.host if request.client else None,
        url=f"{request.app.state.settings.site_url.rstrip('/')}/public/webhooks/{flow_id}",
    )
    async with session_scope(request.app.state.sessionmaker) as session:
        settings = request.app.state.settings
        box = SecretBox.from_setting(settings.secret_key)
        result = await trigger_webhook(session, parsed_id, incoming, settings.site_url, now, box)
    if result.run_id is not None:
        background.add_task(schedule_runs, request.app.state.scheduler, [result.run_id], now)
    return _response(result.outcome)


async def preflight() -> Response:
    headers = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": ", ".join(_METHODS),
        "Access-Control-Allow-Headers": "*",
    }
    return Response(status_code=200, headers=headers)


_DOCS: dict[str, Any] = {
    "summary": "Trigger a workflow by webhook",
    "description": "Runs the trigger's inputs on the request (`request.body`, `request.headers`, `request.query`) "
    "and starts a run. 200 `{status: ok}`; 400/401/405 from the trigger's checks; 404 when the flow is not an "
    "active webhook-triggered flow. Tracking pixels (GET) always answer a 1x1 GIF.",
}

for _path in ("/public/webhooks/{flow_id}", "/public/webhooks/{flow_id}/"):
    _documented = not _path.endswith("/")
    router.add_api_route(
        _path,
        webhook,
        methods=["POST"],
        response_model=None,
        include_in_schema=_documented,
        operation_id="public_webhook" if _documented else None,
        **_DOCS,
    )
    router.add_api_route(
        _path, webhook, methods=[m for m in _METHODS if m != "POST"], response_model=None, include_in_schema=False
    )
    router.add_api_route(_path, preflight, methods=["OPTIONS"], include_in_schema=False)
