"""Who really called, behind a reverse proxy: ``X-Forwarded-For``, ``-Proto`` and ``-Host`` are believed
only from the configured trusted proxies (``BOTPORT_TRUSTED_PROXIES``, loopback by default).

Anyone can send those headers; believed from anyone, they would let a client pick the address its rate
limit is counted against, or the host written into the tool's OpenAPI document. From a trusted proxy
they replace the ASGI scope's ``client``, ``scheme`` and ``Host`` before any route or limit sees them.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_WARNED = 16  # peers warned about; then quiet (a client can send the header itself)

# A Host value: a name or an IPv4 address, or a bracketed IPv6 address, and an optional port.
_HOST = re.compile(r"^(?:[a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?$")


class TrustedProxies:
    def __init__(self, entries: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(e, strict=False) for e in entries)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:  # a unix socket path, or no address at all
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)


class ForwardedHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, trusted: TrustedProxies) -> None:
        self.app = app
        self.trusted = trusted
        self._warned: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            proxied = client is not None and client[0] in self.trusted
            scope.setdefault("state", {})["via_trusted_proxy"] = proxied
            if proxied:
                self._apply(scope)
            elif client is not None:
                self._warn_if_a_proxy(client[0], scope)
        await self.app(scope, receive, send)

    def _warn_if_a_proxy(self, peer: str, scope: Scope) -> None:
        """A reverse proxy left out of the trusted list makes every visitor one address (one address's
        limits for all): say so once per address. (A client may send the header itself: a few lines.)"""
        if peer in self._warned or len(self._warned) >= MAX_WARNED:
            return
        if any(name == b"x-forwarded-for" for name, _ in scope["headers"]):
            self._warned.add(peer)
            log.warning(
                "%s sent X-Forwarded-For but is not in BOTPORT_TRUSTED_PROXIES: the header is ignored, and "
                "if it is your reverse proxy, every visitor counts as %s for the limits per address",
                peer,
                peer,
            )

    def _apply(self, scope: Scope) -> None:
        """Rewrites ``scope`` in place, so that the server's access log names the real client too."""
        headers = scope["headers"]
        values: dict[bytes, str] = {}
        for name, value in headers:
            if name in (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"):
                # Repeated headers are one list (RFC 9110): join them in order.
                joined = values.get(name)
                text = value.decode("latin-1")
                values[name] = text if joined is None else f"{joined},{text}"
        if chain := values.get(b"x-forwarded-for"):
            scope["client"] = (self._client_of(chain), 0)
        if proto := values.get(b"x-forwarded-proto"):
            first = proto.split(",")[0].strip().lower()
            if first in ("http", "https"):
                scope["scheme"] = first
        if forwarded_host := values.get(b"x-forwarded-host"):
            host = forwarded_host.split(",")[0].strip().lower()
            if _HOST.match(host):
                scope["headers"] = [(n, v) for n, v in headers if n != b"host"] + [(b"host", host.encode())]

    def _client_of(self, chain: str) -> str:
        """The address of the caller: walking the chain from the nearest hop, the first that is not a
        trusted proxy (each proxy appends the address it got the request from; the left end is the
        client's own claim, which it could have forged)."""
        hops = [hop.strip() for hop in chain.split(",") if hop.strip()]
        for hop in reversed(hops):
            if hop not in self.trusted:
                return _bare(hop)
        return _bare(hops[0]) if hops else ""


def _bare(hop: str) -> str:
    """``1.2.3.4``, ``[::1]:80`` or ``1.2.3.4:80`` as an address without port or brackets."""
    if hop.startswith("["):
        return hop[1:].partition("]")[0]
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop


def public_origin(scope: Scope, public_url: str | None) -> str:
    """The address users reach botport at: the configured public URL; else, through a trusted proxy,
    the scheme and Host it forwarded; else the local address the connection came to — a direct
    client's Host header is its own claim and is never copied into documents botport serves."""
    if public_url:
        return public_url.rstrip("/")
    scheme = scope.get("scheme", "http")
    if scope.get("state", {}).get("via_trusted_proxy"):
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
        if _HOST.match(host):
            return f"{scheme}://{host}"
    server = scope.get("server")
    if not server:
        return f"{scheme}://localhost"
    address, port = server[0], server[1]
    if ":" in address:
        address = f"[{address}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{address}" + ("" if port in (None, default) else f":{port}")
