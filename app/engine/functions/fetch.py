"""`fetch` for Hog functions: one HTTP request through `http1`, with PostHog's request and response shapes.

Timeouts, a response size limit and the SSRF guard apply to every request. Retries are not done here:
a retriable outcome goes back to the runner, which parks the run and comes back later (no sleeping in
a worker).
"""

import asyncio
import codecs
import json
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.engine.functions.calls import RETRIABLE_STATUSES, CallOutcome, no_response
from app.engine.functions.http1 import ConnectionPool, FetchError, Response
from app.engine.functions.network_guard import AddressNotAllowed
from app.observability import metrics
from app.storable import storable

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
_NO_BODY_METHODS = frozenset({"GET", "HEAD"})
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)


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


def apply_url_override(url: str, overrides: Mapping[str, str]) -> str:
    """`https://slack.com/api/x?y` with `{"slack.com": "http://127.0.0.1:9000"}` -> `http://127.0.0.1:9000/api/x?y`."""
    parts = urlsplit(url)
    base = overrides.get(parts.hostname or "")
    if base is None:
        return url
    query = f"?{parts.query}" if parts.query else ""
    return f"{base.rstrip('/')}{parts.path}{query}"


# One pool per event loop and kind (SSRF-guarded or not), shared by every fetch of the process: connections
# are reused across requests; each new one goes through the guard (network_guard.py).
_POOLS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, ConnectionPool]]" = weakref.WeakKeyDictionary()


class HttpFetcher:
    """Real HTTP through a connection pool shared per event loop (see `_POOLS`)."""

    def __init__(self, settings: FetchSettings | None = None) -> None:
        self.settings = settings or FetchSettings()

    def _pool(self) -> ConnectionPool:
        pools = _POOLS.get(loop := asyncio.get_running_loop())
        if pools is None:
            pools = _POOLS[loop] = {}
        public_only = not self.settings.allow_private
        pool = pools.get(public_only)
        if pool is None:
            pool = pools[public_only] = ConnectionPool(public_only=public_only)
        return pool

    @metrics.timed_fetch
    async def fetch(self, request: FetchRequest) -> CallOutcome:
        url = apply_url_override(request.url, self.settings.url_overrides)
        if urlsplit(url).scheme not in ("http", "https"):
            return no_response("fetch", "InvalidRequestError", f"Invalid URL: {request.url!r}", retriable=False)
        body = request.body.encode() if request.body is not None else None
        try:
            # One deadline for the whole exchange, redirects included (PostHog's fetch has one too).
            async with asyncio.timeout(self.settings.timeout_s):
                response = await self._pool().request(
                    request.method, url, request.headers, body, self.settings.max_response_bytes
                )
        except AddressNotAllowed as error:
            return no_response("fetch", "FetchBlockedError", str(error), retriable=False)
        except TimeoutError:
            detail = f"The request timed out after {self.settings.timeout_s:g}s"
            return no_response("fetch", "TimeoutError", detail, retriable=True)
        except FetchError as error:
            return no_response("fetch", error.name, str(error), retriable=error.retriable)
        return self._outcome(request, response)

    def _outcome(self, request: FetchRequest, response: Response) -> CallOutcome:
        text = response.body.decode(_charset(response.headers.get("content-type")), errors="replace")
        body: Any = text
        logs: list[tuple[str, str]] = []
        if response.truncated:
            limit = self.settings.max_response_bytes
            logs.append(("warn", f"Response body of {request.url} truncated to its first {limit} bytes"))
        else:
            try:
                body = json.loads(text) if text else text
            except (ValueError, RecursionError):  # a response nested past the parser's depth stays text
                body = text
        status = response.status
        value = storable({"status": status, "body": body, "headers": response.headers})
        return CallOutcome(value=value, status=status, retriable=status in RETRIABLE_STATUSES, logs=logs)


def _charset(content_type: str | None) -> str:
    """The response's declared charset when Python knows it, else UTF-8."""
    match = _CHARSET.search(content_type or "")
    if match is None:
        return "utf-8"
    try:
        return codecs.lookup(match.group(1)).name
    except LookupError:
        return "utf-8"
