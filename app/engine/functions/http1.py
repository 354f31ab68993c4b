"""A small HTTP/1.1 client for `fetch`: kept-alive connections on asyncio, responses parsed by httptools.

httpx and httpcore cost the worker about 0.6 ms of CPU per webhook (request and client models, anyio
streams, h11's state machine, pool locks, a readability check per reuse); this path does what `fetch`
needs at a fraction of it: one request at a time per connection, written in one send; idle connections
kept per origin for a few seconds (the protocol learns at once when a server closes one); redirects
followed; a response size limit; gzip bodies decoded. No cookies are kept.

Every connection is opened by `network_guard.open_connection`, so the SSRF guard sees each of them,
those of redirects included.
"""

import asyncio
import base64
import re
import ssl
import time
import zlib
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit

import certifi
import httptools

from app.engine.functions.network_guard import open_connection

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")
# Framing and routing are the client's: a caller's values would desynchronise the connection.
_OWN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_DEFAULTS = (
    ("accept", "Accept: */*"),
    ("accept-encoding", "Accept-Encoding: gzip"),
    ("user-agent", "User-Agent: hogflows"),
)
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
# A request target that needs no percent-encoding (the common case: quoting costs more than the check).
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9/%:@!$&'()*+,;=\-._~?]*")


class FetchError(Exception):
    """A request that got no usable response: `name` is what the template sees, `retriable` whether to retry."""

    def __init__(self, name: str, detail: str, *, retriable: bool) -> None:
        super().__init__(detail)
        self.name = name
        self.retriable = retriable


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    truncated: bool


@dataclass(frozen=True)
class _Target:
    origin: tuple[str, str, int]
    authority: str  # the Host header
    path: str  # the request target: path and query, percent-encoded
    authorization: str | None  # from `user:password@` in the URL


def _parse(url: str) -> _Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        detail = f"Request URL has an unsupported protocol '{scheme}://'"
        raise FetchError("UnsupportedProtocol", detail, retriable=False)
    try:
        host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS[scheme]
        host = host if host.isascii() else host.encode("idna").decode()
    except (ValueError, UnicodeError) as error:
        raise FetchError("InvalidURL", f"Invalid URL {url!r}: {error}", retriable=False) from error
    if not host or not _TOKEN.fullmatch(host.replace(":", "")):
        raise FetchError("InvalidURL", f"Invalid URL {url!r}: no valid host", retriable=False)
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == _DEFAULT_PORTS[scheme] else f"{shown}:{port}"
    path = parts.path or "/"
    if not _PLAIN_TARGET.fullmatch(path):
        path = quote(path, safe=_PATH_SAFE)
    if parts.query:
        plain = _PLAIN_TARGET.fullmatch(parts.query)
        path += "?" + (parts.query if plain else quote(parts.query, safe=_QUERY_SAFE))
    authorization = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(credentials).decode()
    return _Target((scheme, host, port), authority, path, authorization)


def _head(method: str, target: _Target, headers: dict[str, str], body: bytes | None) -> bytes:
    if not _TOKEN.fullmatch(method):
        raise FetchError("InvalidRequestError", f"Invalid method {method!r}", retriable=False)
    lines = [f"{method} {target.path} HTTP/1.1", f"Host: {target.authority}"]
    given = set()
    for name, value in headers.items():
        lower = name.lower()
        if lower in _OWN_HEADERS:
            continue
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            raise FetchError("InvalidRequestError", f"Invalid header {name!r}", retriable=False)
        given.add(lower)
        lines.append(f"{name}: {value.strip()}")
    lines.extend(line for name, line in _DEFAULTS if name not in given)
    if target.authorization is not None and "authorization" not in given:
        lines.append(f"Authorization: {target.authorization}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


class _Connection(asyncio.Protocol):
    """One connection and the response it is reading; httptools calls the `on_*` methods as bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._done: asyncio.Future[Response] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._done is None or self._done.done():
            self.close()  # bytes nobody asked for: the connection cannot be trusted with the next request
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(FetchError("RemoteProtocolError", f"Invalid response: {error}", retriable=True))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._done is None or self._done.done():
            return
        if self._status and not self._framed:
            self._finish()  # a body delimited by the end of the connection
        elif self._status:
            self._fail(FetchError("RemoteProtocolError", "The server closed the connection mid-body", retriable=True))
        else:
            detail = f"Server disconnected without sending a response ({exc or 'closed'})"
            self._fail(FetchError("RemoteProtocolError", detail, retriable=True))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, head: bytes, body: bytes | None, *, head_only: bool, limit: int) -> Response:
        assert self.transport is not None
        self._done = asyncio.get_running_loop().create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._head_only, self._limit = head_only, limit
        self._status, self._framed, self._keep_alive, self._truncated = 0, False, False, False
        self._headers: list[tuple[str, str]] = []
        self._chunks: list[bytes] = []
        self._size = 0
        self._decoder: zlib._Decompress | None = None
        self.transport.write(head + body if body else head)
        response = await self._done
        if not self._keep_alive:
            self.close()
        return response

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if self._done is None or self._done.done():
            self._fail(FetchError("RemoteProtocolError", "A response nobody asked for", retriable=True))
            return
        status = self._parser.get_status_code()
        if status < 200:  # an informational response: the real one follows
            self._headers = []
            return
        self._status = status
        names = {name for name, _ in self._headers}
        self._framed = "content-length" in names or "transfer-encoding" in names or status in (204, 304)
        encoding = next((value.strip().lower() for name, value in self._headers if name == "content-encoding"), "")
        if encoding in ("gzip", "deflate"):
            self._decoder = zlib.decompressobj(47)  # gzip, or deflate in its zlib wrapping (a caller may ask for it)
        if self._head_only:
            self._keep_alive = self._parser.should_keep_alive()
            self._finish()

    def on_body(self, data: bytes) -> None:
        if self._done is None or self._done.done():
            return
        room = self._limit - self._size
        if self._decoder is not None:
            try:
                data = self._decoder.decompress(data, room + 1)
            except zlib.error as error:
                self._fail(FetchError("DecodingError", f"Invalid compressed body: {error}", retriable=False))
                return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > self._limit:
            self._truncated = True  # the rest is not read: the connection closes
            self._finish()

    def on_message_complete(self) -> None:
        if self._status and self._done is not None and not self._done.done():
            self._keep_alive = self._parser.should_keep_alive()
            self._finish()

    def _finish(self) -> None:
        body = b"".join(self._chunks)[: self._limit]
        headers: dict[str, str] = {}
        for name, value in self._headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        assert self._done is not None
        self._done.set_result(Response(self._status, headers, body, self._truncated))

    def _fail(self, error: FetchError) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)
        self.close()


class ConnectionPool:
    """Idle connections per origin (scheme, host, port), reused newest first; a connection opened and checked
    for one origin serves only that origin. At most `max_connections` requests are in flight."""

    def __init__(
        self,
        *,
        public_only: bool,
        max_connections: int = 100,
        max_idle: int = 20,
        keepalive_expiry: float = 4.0,
    ) -> None:
        self.public_only = public_only
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._idle_count = 0
        self._max_idle = max_idle
        # Dropped before the 5 s keep-alive timeout of Node servers, so a reuse rarely meets a server closing.
        self._expiry = keepalive_expiry

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None, limit: int) -> Response:
        """The response to `method url`, redirects followed (at most `MAX_REDIRECTS`)."""
        for _ in range(MAX_REDIRECTS + 1):
            target = _parse(url)
            response = await self._send(target, _head(method, target, headers, body), body, method == "HEAD", limit)
            location = response.headers.get("location")
            if response.status not in _REDIRECTS or location is None:
                return response
            next_url = urljoin(url, location)
            method, body, headers = _redirected(response.status, method, body, headers, target, _parse(next_url))
            url = next_url
        raise FetchError("TooManyRedirects", "Exceeded maximum allowed redirects", retriable=False)

    async def _send(self, target: _Target, head: bytes, body: bytes | None, head_only: bool, limit: int) -> Response:
        async with self._slots:
            connection = self._take(target.origin) or await self._open(target.origin)
            try:
                response = await connection.exchange(head, body, head_only=head_only, limit=limit)
            except BaseException:
                connection.close()
                raise
            self._keep(target.origin, connection)
            return response

    def _keep(self, origin: tuple[str, str, int], connection: _Connection) -> None:
        now = time.monotonic()
        if self._idle_count >= self._max_idle:  # drop the closed and expired ones of every origin first
            for idle in self._idle.values():
                for stale in [c for c in idle if c.closed or now - c.idle_since >= self._expiry]:
                    idle.remove(stale)
                    stale.close()
                    self._idle_count -= 1
        if connection.closed or self._idle_count >= self._max_idle:
            connection.close()
            return
        connection.idle_since = now
        self._idle.setdefault(origin, []).append(connection)
        self._idle_count += 1

    def _take(self, origin: tuple[str, str, int]) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if not connection.closed and now - connection.idle_since < self._expiry:
                return connection
            connection.close()
        return None

    async def _open(self, origin: tuple[str, str, int]) -> _Connection:
        scheme, host, port = origin
        tls = _ssl_context() if scheme == "https" else None
        try:
            return await open_connection(_Connection, host, port, tls, public_only=self.public_only)
        except OSError as error:  # refused, unreachable, unresolvable, TLS failures (ssl.SSLError)
            raise FetchError("ConnectError", str(error) or type(error).__name__, retriable=True) from error


def _redirected(
    status: int, method: str, body: bytes | None, headers: dict[str, str], source: _Target, target: _Target
) -> tuple[str, bytes | None, dict[str, str]]:
    """Browsers' (and httpx's) rules: 303, and 302 or a POST's 301, become GETs without a body; credentials
    stay with their host (an upgrade to https of the same host keeps them)."""
    if method != "HEAD" and (status in (302, 303) or (status == 301 and method == "POST")):
        method, body = "GET", None
    same_host = source.origin[1:] == target.origin[1:] or (
        source.origin[0] == "http" and target.origin[0] == "https" and source.origin[1] == target.origin[1]
    )
    if not same_host:
        headers = {name: value for name, value in headers.items() if name.lower() != "authorization"}
    return method, body, headers


_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds; one context serves every connection of the process.
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())
        _SSL_CONTEXT.set_alpn_protocols(["http/1.1"])
    return _SSL_CONTEXT
