"""`fetch` for Hog functions: one HTTP request through httpx, with PostHog's request and response shapes.

Timeouts, a response size limit and the SSRF guard apply to every request. Retries are not done here:
a retriable outcome goes back to the runner, which parks the run and comes back later (no sleeping in
a worker).
"""

import asyncio
import json
import ssl
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookiejar import Cookie, CookieJar
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.engine.functions.calls import RETRIABLE_STATUSES, CallOutcome, no_response
from app.engine.functions.http_pool import StreamBackend
from app.engine.functions.network_guard import AddressNotAllowed, pooled_transport, public_only_transport
from app.observability import metrics
from app.storable import storable

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
_NO_BODY_METHODS = frozenset({"GET", "HEAD"})
_MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchRequest:
    url: str
    method: str
    headers: dict[str, str]
    body: str | None

    @classmethod
    def from_hog_args(cls, args: list[Any]) -> "FetchRequest":
        """PostHog's `fetch(url, {method='POST', headers={'Content-Type': 'application/json'}, body})`.

        An object body is JSON-encoded, only string headers are kept, GET and HEAD send no body.
        """
        url = args[0] if args else None
        options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        method = str(options.get("method") or "POST").upper()
        raw_headers = options.get("headers")
        if not isinstance(raw_headers, dict):
            raw_headers = {"Content-Type": "application/json"}
        headers = {str(key): value for key, value in raw_headers.items() if isinstance(value, str)}
        body = options.get("body")
        if body is not None and not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"))
        if method in _NO_BODY_METHODS:
            body = None
        return cls(url=url if isinstance(url, str) else "", method=method, headers=headers, body=body)


@dataclass(frozen=True)
class FetchSettings:
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    allow_private: bool = False
    # host -> base URL: requests to that host go to the base instead (local fakes of Slack, Twilio...).
    url_overrides: Mapping[str, str] = field(default_factory=dict)


_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds; one context serves every request of the process.
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = httpx.create_ssl_context()
    return _SSL_CONTEXT


def apply_url_override(url: str, overrides: Mapping[str, str]) -> str:
    """`https://slack.com/api/x?y` with `{"slack.com": "http://127.0.0.1:9000"}` -> `http://127.0.0.1:9000/api/x?y`."""
    parts = urlsplit(url)
    base = overrides.get(parts.hostname or "")
    if base is None:
        return url
    query = f"?{parts.query}" if parts.query else ""
    return f"{base.rstrip('/')}{parts.path}{query}"


# Per process: at most this many connections in flight, and this many idle ones kept for reuse. Idle
# connections are dropped before the 5 s keep-alive timeout of Node servers, so one is rarely reused just
# as its server closes it.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=4.0)


class _NoCookies(CookieJar):
    """A shared client must not carry one flow's cookies into another's requests (nor does PostHog's fetch)."""

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def extract_cookies(self, response: object, request: object) -> None:
        return None


class _DiscardedCookies(httpx.Cookies):
    """The client's cookies: none kept, and no per-response parsing of `Set-Cookie` to find that out (httpx
    builds urllib request and response adapters for every response before the jar can refuse them)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


# One client per event loop and kind (SSRF-guarded or not, timeout), shared by every fetch of the process:
# connections are reused across requests; each new one goes through the guard (network_guard.py).
_CLIENTS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[bool, float], httpx.AsyncClient]]" = (
    weakref.WeakKeyDictionary()
)


class HttpFetcher:
    """Real HTTP through a client shared per event loop (see `_CLIENTS`); the TLS context is shared too."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()

    def _client(self) -> httpx.AsyncClient:
        clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
        key = (self.settings.allow_private, self.settings.timeout_s)
        client = clients.get(key)
        if client is None or client.is_closed:
            client = clients[key] = httpx.AsyncClient(
                transport=self._transport(),
                timeout=self.settings.timeout_s,
                follow_redirects=True,
                max_redirects=_MAX_REDIRECTS,
                trust_env=False,
                cookies=_NoCookies(),
            )
            client._cookies = _DiscardedCookies(_NoCookies())
        return client

    @metrics.timed_fetch
    async def fetch(self, request: FetchRequest) -> CallOutcome:
        url = apply_url_override(request.url, self.settings.url_overrides)
        if urlsplit(url).scheme not in ("http", "https"):
            return no_response("fetch", "InvalidRequestError", f"Invalid URL: {request.url!r}", retriable=False)
        try:
            return await self._send(url, request)
        except AddressNotAllowed as error:
            return no_response("fetch", "FetchBlockedError", str(error), retriable=False)
        except httpx.TimeoutException:
            detail = f"The request timed out after {self.settings.timeout_s:g}s"
            return no_response("fetch", "TimeoutError", detail, retriable=True)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, httpx.TooManyRedirects) as error:
            return no_response("fetch", type(error).__name__, str(error), retriable=False)
        except httpx.TransportError as error:
            return no_response("fetch", type(error).__name__, str(error) or type(error).__name__, retriable=True)

    def _transport(self) -> httpx.AsyncHTTPTransport:
        if self.settings.allow_private:
            return pooled_transport(_ssl_context(), LIMITS, StreamBackend())
        return public_only_transport(_ssl_context(), LIMITS)

    async def _send(self, url: str, request: FetchRequest) -> CallOutcome:
        async with self._client().stream(
            request.method, url, headers=request.headers, content=request.body
        ) as response:
            raw, truncated = await self._read_limited(response)
        text = raw.decode(response.encoding or "utf-8", errors="replace")
        body: Any = text
        logs: list[tuple[str, str]] = []
        if truncated:
            limit = self.settings.max_response_bytes
            logs.append(("warn", f"Response body of {request.url} truncated to its first {limit} bytes"))
        else:
            try:
                body = json.loads(text) if text else text
            except (ValueError, RecursionError):  # a response nested past the parser's depth stays text
                body = text
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        value = storable({"status": status, "body": body, "headers": headers})
        return CallOutcome(value=value, status=status, retriable=status in RETRIABLE_STATUSES, logs=logs)

    async def _read_limited(self, response: httpx.Response) -> tuple[bytes, bool]:
        limit = self.settings.max_response_bytes
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return b"".join(chunks)[:limit], True
        return b"".join(chunks), False
