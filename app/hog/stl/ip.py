"""STL: IP address helpers."""

from __future__ import annotations

import ipaddress
from typing import Any

from app.hog.stl.registry import StlContext, stl


@stl("isIPAddressInRange", 2, 2)
def _is_ip_in_range(ctx: StlContext, args: list[Any]) -> bool:
    """IPv4/IPv6 CIDR containment; any malformed input (or mixed families) is simply false."""
    address, cidr = args[0], args[1]
    if type(address) is not str or type(cidr) is not str or "/" not in cidr:
        return False
    prefix = cidr.rsplit("/", 1)[1]
    if not prefix.isdigit():
        return False
    try:
        ip = ipaddress.ip_address(address)
        network = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    return ip.version == network.version and ip in network
