"""The port ``botport serve`` (and ``botport emulator``) listens on, known before anything is printed.

``--port 0`` asks the system for a free port: the banner must name the one it got, not ``:0``. And a
port another program holds should be one clear error before the database is migrated and the workers
start, not a traceback after. Both come from binding a socket here first. It binds with SO_REUSEADDR
and never listens, so uvicorn (which binds the same way, and listens) can still take the port, while
no other program can: on Linux a second bind conflicts only with a socket that listens, or one bound
without SO_REUSEADDR. The reservation is held until the server stops.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass


class CannotListen(Exception):
    """The address cannot be bound: another program holds it, or it is not an address of this host."""


@dataclass(frozen=True, slots=True)
class Reservation:
    sock: socket.socket
    port: int

    def release(self) -> None:
        self.sock.close()


def reserve_port(host: str, port: int) -> Reservation:
    """Bind ``host``:``port`` (``0``: any free port) without listening; the port is the bound one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn picks it
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return Reservation(sock, int(sock.getsockname()[1]))


def http_url(host: str, port: int) -> str:
    """The server's address as a URL: an IPv6 host in brackets (``http://[::1]:8400``)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
