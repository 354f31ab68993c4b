"""SSRF protection: outbound connections only to public addresses.

The check sits in the connection layer (an httpcore network backend), not in front of the request:
the host is resolved once, every resolved address must be public, and the socket connects to one of
those checked addresses. So DNS answers that change between a check and the connect (rebinding) and
redirects to internal hosts are refused as well. TLS still verifies the certificate against the host
name, because httpcore passes the original host as the TLS server name.
"""

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable

import httpcore
import httpx

from app.engine.functions.http_pool import ConnectionPool, StreamBackend

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# Python counts these as global, yet they reach private hosts: 6to4 (2002::/16) embeds any IPv4
# address, including 127.0.0.1 and 10.x, behind a relay; site-local (fec0::/10) is deprecated but routed
# inside sites that still use it.
_NON_PUBLIC_V6 = (ipaddress.IPv6Network("2002::/16"), ipaddress.IPv6Network("fec0::/10"))


class AddressNotAllowed(Exception):
    """The destination resolves to a private, loopback, link-local or otherwise non-public address."""


def refusal_reason(address: _IPAddress) -> str | None:
    """Why connecting to `address` is refused, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "a reserved address"
    if address.is_private or (isinstance(address, ipaddress.IPv6Address) and _in_non_public_v6(address)):
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


def _in_non_public_v6(address: ipaddress.IPv6Address) -> bool:
    return any(address in network for network in _NON_PUBLIC_V6)


async def resolve_public(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, provided all of them are public; raises `AddressNotAllowed`."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise httpcore.ConnectError(f"Could not resolve {host}: {error.strerror or error}") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for raw in addresses:
        reason = refusal_reason(ipaddress.ip_address(raw.split("%", 1)[0]))
        if reason is not None:
            shown = host if host == raw else f"{host} ({raw})"
            raise AddressNotAllowed(
                f"Refusing to connect to {shown}: it is {reason} (HOGFLOWS_ALLOW_PRIVATE_FETCH allows it)"
            )
    return addresses


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to checked public addresses."""

    def __init__(self) -> None:
        self._inner = StreamBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            # The system resolver has timeouts of its own, often longer than the request's.
            async with asyncio.timeout(timeout):
                addresses = await resolve_public(host, port)
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"Resolving {host} timed out") from error
        last_error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        raise last_error or httpcore.ConnectError(f"Could not connect to {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressNotAllowed("Refusing to connect to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def pooled_transport(
    ssl_context: ssl.SSLContext, limits: httpx.Limits, backend: httpcore.AsyncNetworkBackend
) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through `backend`, pooled by `http_pool.ConnectionPool`.

    httpx has no parameter for the network backend nor the pool, so the transport's connection pool
    (httpcore's public API) is replaced by one built with it.
    """
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False)
    transport._pool = ConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend,
    )
    return transport


def public_only_transport(ssl_context: ssl.SSLContext, limits: httpx.Limits | None = None) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose connections go through `PublicOnlyBackend`. A pooled connection is reused
    only for the origin (scheme, host, port) it was opened and checked for."""
    return pooled_transport(ssl_context, limits or httpx.Limits(max_connections=10), PublicOnlyBackend())
