"""Network faults for tests: a loopback TCP proxy that can cut every connection or refuse new ones.

A module of its own (like live_server.py) so that tests in any folder can import it by name: the
browser tests put it between Chromium and botport, the reliability tests between botport and Coze.
"""

from __future__ import annotations

import socket
import struct
import threading
from urllib.parse import urlsplit


class CuttableProxy:
    """A loopback TCP proxy in front of a server that a test can cut, as a network drop would.

    ``cut()`` resets every open connection (a streaming answer stops mid-body); while ``down`` is
    true, new connections are reset at once, so the page's reconnects fail until it is false again.
    """

    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self._target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.down = False
        self._open: set[socket.socket] = set()
        self._closed = False
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = self._open, set()
        for sock in sockets:
            _reset(sock)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self.down:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self._target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                closed = self._closed
                if not closed:
                    self._open |= {client, upstream}
            if closed:  # close() ran meanwhile: nothing would close these two
                _reset(client)
                _reset(upstream)
                return
            pumps = [2]  # the second pump to end closes the pair
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink, pumps), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, pumps: list[int]) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            _reset(source)
            _reset(sink)
        with self._lock:
            pumps[0] -= 1
            last = pumps[0] == 0
            if last:
                self._open -= {source, sink}
        if last:  # both directions ended: the connection is over
            source.close()
            sink.close()


def _reset(sock: socket.socket) -> None:
    """Drop a connection: wake the thread that reads it (shutdown), then close it with RST (linger 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
