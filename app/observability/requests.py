"""The outermost ASGI middleware: a request id for every request, one log line and the HTTP metrics.

`X-Request-ID` from the client (or the gateway) is kept when it is a sane token, otherwise a new one
is made; it is echoed in the response and bound into every log line written while serving the request.
Metrics are labelled by route template (`/api/projects/{team_id}/hog_flows/`), never the raw path.
"""

import json
import logging
import os
import re
import time

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import database_error_summary
from app.observability import metrics

logger = structlog.get_logger("hogflows.http")
_stdlib_logger = logging.getLogger("hogflows.http")

_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# Probes and scrapes every few seconds would drown the log.
_QUIET_PATHS = frozenset({"/_health", "/_readyz", "/metrics"})


_SERVER_ERROR_BODY = json.dumps(
    {"type": "server_error", "code": "error", "detail": "A server error occurred.", "attr": None}
).encode()
_SERVER_ERROR_START: Message = {
    "type": "http.response.start",
    "status": 500,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(_SERVER_ERROR_BODY)).encode())],
}


class RequestContext:
    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                given = value.decode("latin-1")  # the last one counts
        request_id = given if _SANE_ID.fullmatch(given) else _new_request_id()
        status = 500
        started_response = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as error:
                # A bug: one traceback, with the request id, and PostHog's error shape to the client. A
                # database error keeps only its types and place: drivers quote the values they refused.
                if isinstance(error, SQLAlchemyError):
                    summary = database_error_summary(error)
                    logger.error("unhandled error", method=scope["method"], path=scope["path"], **summary)
                else:
                    logger.exception("unhandled error", method=scope["method"], path=scope["path"])
                if started_response:
                    raise
                await send_with_id(dict(_SERVER_ERROR_START))
                await send_with_id({"type": "http.response.body", "body": _SERVER_ERROR_BODY})
            finally:
                elapsed = time.perf_counter() - started
                route = route_template(scope)
                metrics.http_request(route, scope["method"], status, elapsed)
                if self.access_log and scope["path"] not in _QUIET_PATHS and _stdlib_logger.isEnabledFor(logging.INFO):
                    logger.info(
                        "request",
                        method=scope["method"],
                        path=scope["path"],
                        route=route,
                        status=status,
                        duration_ms=round(elapsed * 1000, 1),
                    )
        finally:
            structlog.contextvars.reset_contextvars(**tokens)


def _new_request_id() -> str:
    """`uuid.uuid4().hex`, without building a `UUID` (which checks its arguments at some cost)."""
    value = int.from_bytes(os.urandom(16)) & _UUID4_CLEAR | _UUID4_SET
    return f"{value:032x}"


# RFC 4122 variant (bits 64-65 = 10) and version 4 (bits 76-79), as `uuid.UUID(..., version=4)` sets them.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


def route_template(scope: Scope) -> str:
    """`/api/projects/{team_id}/hog_flows/{flow_id}/` for a matched request, `<unmatched>` otherwise.

    Built from the path and its parameters rather than the route object, whose path lacks the prefix
    of an included router.
    """
    if scope.get("route") is None and scope.get("endpoint") is None:
        return "<unmatched>"
    names = {str(value): f"{{{name}}}" for name, value in (scope.get("path_params") or {}).items()}
    return "/".join(names.get(segment, segment) for segment in scope["path"].split("/"))
