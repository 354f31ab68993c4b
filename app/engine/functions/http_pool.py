"""httpcore's connection pool, made cheap at many requests in flight (the worker's fetches share one).

httpcore's pool rescans its connections on every request: it counts every connection once per connection
(quadratic in the pool's size) and asks each idle one whether its socket is readable through anyio, which
builds a fresh attribute map per question. With twenty requests in flight that was about half of a request's
CPU. Here the idle connections are counted once per pass, a pass runs only when a request waits for a
connection, and each stream keeps its socket at hand. The behaviour is httpcore's, except that surplus idle
connections are counted as idle (httpcore counts every connection, so a busy pool closed the idle ones it
would reuse next) and that expired or surplus connections are closed by the next request, not at once.

httpcore also writes a request's head and its body separately; each stream holds the head back and sends it
with the body (or with the empty end of a bodiless request: h11 always ends a message with a write), so a
request costs one send, not two.
"""

import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
from httpcore._utils import is_socket_readable


class _Stream(httpcore.AsyncNetworkStream):
    """An anyio stream whose readability check does not look its socket up each time, and whose first write
    after a read (a request's head) goes out with the next one."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = None
        self._head: bytes | None = None
        self._hold_next = True

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 (httpcore's interface)
        await self._flush(timeout)
        self._hold_next = True
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if self._hold_next:
            self._hold_next = False
            self._head = buffer
            return
        if self._head is not None:
            buffer, self._head = self._head + buffer, None
        await self._inner.write(buffer, timeout)

    async def _flush(self, timeout: float | None) -> None:  # noqa: ASYNC109
        if self._head is not None:
            head, self._head = self._head, None
            await self._inner.write(head, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            if self._socket is None:
                self._socket = self._inner.get_extra_info("socket")
            return is_socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class StreamBackend(httpcore.AsyncNetworkBackend):
    """httpcore's anyio backend, its streams wrapped in `_Stream`."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class ConnectionPool(httpcore.AsyncConnectionPool):
    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        # httpcore 1.0's method with the idle connections counted once (see the module docstring), and no
        # pass at all while no request waits (a response was closed): the next request's pass cleans up.
        queued = [request for request in self._requests if request.is_queued()]
        if not queued:
            return []
        closing = []
        idle = sum(1 for connection in self._connections if connection.is_idle())
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
            elif connection.has_expired():
                idle -= connection.is_idle()
                self._connections.remove(connection)
                closing.append(connection)
            elif connection.is_idle() and idle > self._max_keepalive_connections:
                idle -= 1
                self._connections.remove(connection)
                closing.append(connection)
        for pool_request in queued:
            origin = pool_request.request.url.origin
            available = next((c for c in self._connections if c.can_handle_request(origin) and c.is_available()), None)
            if available is not None:
                pool_request.assign_to_connection(available)
                continue
            if len(self._connections) >= self._max_connections:
                surplus = next((c for c in self._connections if c.is_idle()), None)
                if surplus is None:
                    continue  # the request waits for a connection to come free
                self._connections.remove(surplus)
                closing.append(surplus)
            connection = self.create_connection(origin)
            self._connections.append(connection)
            pool_request.assign_to_connection(connection)
        return closing
