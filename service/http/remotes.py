"""The client's address, believing `X-Forwarded-For` only from the configured trusted proxies.

Behind the documented https proxy every request comes from the proxy's address; throttling by
that would put every user in one bucket. The header is read from the right: each hop a trusted
proxy added is skipped, and the first address no trusted proxy vouches for is the client. A
client can prepend anything it likes to the header, which is why the leftmost entry is never
taken on trust.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from aiohttp import web

from service.http import appkeys

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies if p.strip())


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request) -> str:
    """The client's IP address as well as can be told; "unknown" if there is none."""
    peer = request.remote or "unknown"
    networks = _networks(tuple(request.app[appkeys.SETTINGS].trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
    ]
    for hop in reversed(hops):
        if hop and not _trusted(hop, networks):
            return hop
    return hops[0] if hops and hops[0] else peer
