"""Whose ``X-Forwarded-*`` headers the gateway believes: only its trusted proxies' (issue 7, the edge).

A reverse proxy in front of the gateway (an office's nginx, a load balancer) tells it who the caller
is (``X-Forwarded-For``), which scheme (``X-Forwarded-Proto``) and host name (``X-Forwarded-Host``)
the caller used. Anybody else can send the same headers to pick their own address and dodge the
per-address rate limits, or to make the services write links to a host of their choosing
(``gongkai_shared.http.public_base_url`` builds feed and notice links from them).

So this middleware, the outermost of the gateway, looks at the peer of the connection:

- a peer inside ``GK_GATEWAY_TRUSTED_PROXIES``: the caller is the right-most address of
  ``X-Forwarded-For`` that is not itself a trusted proxy (each proxy appends the address it was
  called from, so what a caller wrote stays on the left and cannot win); the scheme and host are the
  right-most values of ``X-Forwarded-Proto`` / ``-Host`` (the ones the nearest proxy wrote), the
  host replacing ``Host``. ``scope["client"]`` becomes the caller: rate limits, the sign-in
  throttle and logs see it.
- any other peer: every forwarding header (``X-Forwarded-*``, ``Forwarded``, ``X-Real-IP``) is
  removed from the request before anything reads it, so the peer's own address counts and nothing
  of it reaches a service.

The proxy then tells the services: ``X-Forwarded-For`` is the believed chain plus the peer,
``X-Forwarded-Proto`` the scheme and ``X-Forwarded-Host`` the (public) host.

The server must not apply proxy headers itself before this runs: ``python -m gongkai_gateway api``
turns uvicorn's off (see ``__main__``).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FORWARDING_HEADERS", "ForwardedHeadersMiddleware", "TrustedProxies"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Headers by which a client could claim another address, scheme or host: believed from trusted
#: proxies (the X-Forwarded-For/-Proto/-Host ones), dropped from everybody else.
FORWARDING_HEADERS = frozenset(
    {
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-forwarded-server",
        b"x-real-ip",
        b"forwarded",
    }
)
_SCHEMES = frozenset({"http", "https"})
# A host name or address with an optional port: nothing that could smuggle a path or a second header.
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")


@functools.lru_cache(maxsize=4096)  # parsing an address costs microseconds; callers repeat
def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as written in X-Forwarded-For (``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:5678``, ``::1``)."""
    value = value.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else value
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return address


class TrustedProxies:
    """The networks whose forwarding headers are believed."""

    def __init__(self, networks: Iterable[Network]) -> None:
        self.networks = tuple(networks)
        self.trusts = functools.lru_cache(maxsize=4096)(self._trusts)

    def _trusts(self, host: str | None) -> bool:
        address = _address(host) if host else None
        return address is not None and any(address in net for net in self.networks)

    def client(self, peer: str, forwarded_for: list[str]) -> str:
        """The caller behind trusted ``peer``: the right-most X-Forwarded-For entry that is not a
        trusted proxy. An entry that is not an address stops the walk at the hop before it (never
        believed as a caller); when every entry is a trusted proxy, the left-most."""
        hop = peer
        for entry in reversed(forwarded_for):
            address = _address(entry)
            if address is None:
                return hop
            hop = str(address)
            if not self.trusts(hop):
                return hop
        return hop


def _values(headers: list[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """Every comma-separated value of header ``name``, in order, over all its lines."""
    return [
        part.strip()
        for key, value in headers
        if key == name
        for part in value.decode("latin-1").split(",")
        if part.strip()
    ]


class ForwardedHeadersMiddleware:
    """Pure ASGI, outermost: believe the forwarding headers of trusted proxies, drop everybody else's."""

    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        client = scope.get("client")
        peer = client[0] if client else None
        scope = dict(scope)
        scope["gk_peer"] = peer
        if peer is None or not self.trusted.trusts(peer):
            if any(key in FORWARDING_HEADERS for key, _ in headers):
                scope["headers"] = [(k, v) for k, v in headers if k not in FORWARDING_HEADERS]
            await self.app(scope, receive, send)
            return
        forwarded_for = _values(headers, b"x-forwarded-for")
        if forwarded_for:
            scope["client"] = (self.trusted.client(peer, forwarded_for), 0)
        protos = _values(headers, b"x-forwarded-proto")
        if protos and protos[-1].lower() in _SCHEMES:
            scheme = protos[-1].lower()
            scope["scheme"] = scheme if scope["type"] == "http" else scheme.replace("http", "ws")
        hosts = _values(headers, b"x-forwarded-host")
        if hosts and _HOST.match(hosts[-1]):
            host = hosts[-1].encode("latin-1")
            scope["headers"] = [(k, v) for k, v in headers if k != b"host"] + [(b"host", host)]
        await self.app(scope, receive, send)
