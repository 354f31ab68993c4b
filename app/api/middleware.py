"""ASGI middlewares: optional trailing slash on API routes, and a cap on request bodies."""

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import RequestTooLarge


class OptionalTrailingSlash:
    """PostHog's router accepts `/hog_flows` and `/hog_flows/` alike; ours routes the slashed form."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/") and not scope["path"].endswith("/"):
            # In place: the request middleware outside reads the matched route from this same scope.
            scope["path"] = scope["path"] + "/"
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuse bodies over the limit before anything parses them (413 in PostHog's error shape)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _reject(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await _reject(send)


class _TooLarge(Exception):
    pass


async def _reject(send: Send) -> None:
    body: dict[str, Any] = RequestTooLarge().body()
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
