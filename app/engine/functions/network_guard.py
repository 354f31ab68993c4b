"""SSRF protection: outbound connections only to public addresses.

The check sits in the connection layer (`open_connection`, the only way `http1`'s pool opens a
connection), not in front of the request: the host is resolved once, every resolved address must be
public, and the socket connects to one of those checked addresses. So DNS answers that change between a
check and the connect (rebinding) and redirects to internal hosts are refused as well. TLS still verifies
the certificate against the host name, passed as the TLS server name.
"""

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_P = TypeVar("_P", bound=asyncio.Protocol)


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
        raise OSError(f"Could not resolve {host}: {error.strerror or error}") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for raw in addresses:
        reason = refusal_reason(ipaddress.ip_address(raw.split("%", 1)[0]))
        if reason is not None:
            shown = host if host == raw else f"{host} ({raw})"
            raise AddressNotAllowed(
                f"Refusing to connect to {shown}: it is {reason} (HOGFLOWS_ALLOW_PRIVATE_FETCH allows it)"
            )
    return addresses


async def open_connection(
    factory: Callable[[], _P], host: str, port: int, tls: ssl.SSLContext | None, *, public_only: bool
) -> _P:
    """A connection to `host:port` (TLS when `tls` is given, its certificate checked against `host`).

    With `public_only`, `host` is resolved here, every address must be public, and the socket connects to
    one of those checked addresses: raises `AddressNotAllowed`, or `OSError` when no address answers.
    """
    loop = asyncio.get_running_loop()
    server_hostname = host if tls is not None else None
    if not public_only:
        _, protocol = await loop.create_connection(factory, host, port, ssl=tls, server_hostname=server_hostname)
        return protocol
    last_error: OSError | None = None
    for address in await resolve_public(host, port):
        try:
            _, protocol = await loop.create_connection(factory, address, port, ssl=tls, server_hostname=server_hostname)
            return protocol
        except OSError as error:
            last_error = error
    raise last_error or OSError(f"Could not connect to {host}")
