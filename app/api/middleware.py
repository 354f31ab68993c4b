"""ASGI middlewares: optional trailing slash on API routes, a cap on request bodies, text PostgreSQL can store."""

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import RequestTooLarge, ValidationError, join_attr


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
        declared = _header(scope, b"content-length")
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


async def _reject(send: Send, body: dict[str, Any] | None = None, status: int = 413) -> None:
    body = body or RequestTooLarge().body()
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# PostgreSQL text and jsonb cannot hold NUL, and UTF-8 cannot encode a lone surrogate (`"\ud800"` in JSON).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Capture and public webhooks take whatever senders send: they replace such characters with U+FFFD
# (`app.ingest.sanitize`), as PostHog's ingestion does.
_CHECKED_PREFIXES = ("/api/",)


class RejectUnstorableText:
    """Refuse NUL and lone surrogates in query parameters and JSON bodies, once for every route.

    DRF's CharField answers these with 400 `null_characters_not_allowed` ("Null characters are not allowed.")
    and `surrogate_characters_not_allowed` ("Surrogate characters are not allowed: U+D800."); we answer the
    same for any string anywhere in the request, `attr` being the query parameter or the path into the
    body (`actions__0__config__inputs__url`), before anything reaches the database.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_CHECKED_PREFIXES):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        # Only a percent escape (or a raw NUL) can put such a character in a parameter.
        for name, value in parse_qsl(query, keep_blank_values=True) if "%" in query or "\x00" in query else ():
            for text in (name, value):
                if _UNSTORABLE.search(text):
                    await _reject(send, _unstorable_error(text, name).body(), status=400)
                    return
        if scope["method"] not in _BODY_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        found = _find_unstorable(body)
        if found is not None:
            await _reject(send, _unstorable_error(found[1], join_attr(found[0])).body(), status=400)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    """The last value of a header (as `dict(headers)` keeps it), without building a dict per request."""
    found = None
    for key, value in scope.get("headers") or ():
        if key == name:
            found = value
    return found


def _is_json(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or b"").decode("latin-1").lower()
    return not content_type or "json" in content_type or content_type.startswith("text/plain")


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _find_unstorable(body: bytes) -> tuple[list[str | int], str] | None:
    if not body or (b"\\u" not in body and b"\x00" not in body):
        return None  # neither a `\u0000` / `\ud800` escape nor a raw NUL (which json refuses anyway)
    try:
        parsed = json.loads(body)
    except ValueError:
        return None  # the route answers its own parse error
    return next(_unstorable_strings(parsed, []), None)


def _unstorable_strings(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if _UNSTORABLE.search(key):
                yield [*path, _UNSTORABLE.sub("", key)], key
            yield from _unstorable_strings(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unstorable_strings(item, [*path, index])


def _unstorable_error(text: str, attr: str | None) -> ValidationError:
    if "\x00" in text:
        return ValidationError("Null characters are not allowed.", attr=attr, code="null_characters_not_allowed")
    match = _UNSTORABLE.search(text)
    point = ord(match.group()) if match else 0
    return ValidationError(
        f"Surrogate characters are not allowed: U+{point:X}.", attr=attr, code="surrogate_characters_not_allowed"
    )


class RouteMethods:
    """Which methods each path supports, from the routes as registered (FastAPI's own 405 names only one)."""

    def __init__(self) -> None:
        self._routes: list[tuple[re.Pattern[str], int, frozenset[str]]] = []

    def add(self, path: str, methods: Iterable[str]) -> None:
        pattern, _, params = compile_path(path)
        self._routes.append((pattern, len(params), frozenset(method.upper() for method in methods)))

    def add_routes(self, routes: Iterable[Any], prefix: str = "") -> None:
        for route in routes:
            if isinstance(getattr(route, "path", None), str) and getattr(route, "methods", None):
                self.add(prefix + route.path, route.methods)

    def declared(self, path: str) -> set[str]:
        """The methods of the routes matching `path` (OPTIONS only when a route answers it itself).

        The most literal routes win: `/hog_flows/bulk_delete/` is a POST action, not a `{flow_id}`.
        """
        matching = [(params, methods) for pattern, params, methods in self._routes if pattern.match(path)]
        if not matching:
            return set()
        fewest = min(params for params, _ in matching)
        return {method for params, methods in matching if params == fewest for method in methods}


class AnswerOptions:
    """`OPTIONS` on any route: 200 with `Allow` naming the methods the path supports, as DRF answers; a 405
    names them all too.

    Routes with an `OPTIONS` handler of their own (CORS preflight of capture and webhooks) keep it; paths
    no route serves stay 404.
    """

    def __init__(self, app: ASGIApp, routes: RouteMethods) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            declared = self.routes.declared(scope["path"])
            if declared and "OPTIONS" not in declared:
                body = {"name": "", "description": "", "renders": ["application/json"], "parses": ["application/json"]}
                payload = json.dumps(body).encode()
                headers = [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"allow", _allow_header(declared)),
                ]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": payload})
                return

        path = scope["path"]

        async def send_with_allow(message: Message) -> None:
            # Matching the path against every route costs more than a cached read: only for a 405.
            if message["type"] == "http.response.start" and message["status"] == 405:
                declared = self.routes.declared(path)
                if declared:
                    headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != b"allow"]
                    message = {**message, "headers": [*headers, (b"allow", _allow_header(declared))]}
            await send(message)

        await self.app(scope, receive, send_with_allow)


def _allow_header(declared: set[str]) -> bytes:
    allowed = declared | {"OPTIONS"} | ({"HEAD"} if "GET" in declared else set())
    return ", ".join(sorted(allowed, key=_METHOD_ORDER.index)).encode()


_METHOD_ORDER = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"]
