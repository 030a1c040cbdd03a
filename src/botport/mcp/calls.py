"""Who is calling, and the tool calls under way: what a cancel or a disconnect must stop.

Over stateless HTTP a client on the 2025 protocol cancels a call with a ``notifications/cancelled`` in
a POST of its own, which names the call's JSON-RPC id only; :class:`InFlight` finds the call by that
id among the calls of the same API key running in this process. A client that just goes away is seen
on its own request (:meth:`Caller.disconnected`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botport.identity import Identity

if TYPE_CHECKING:  # this module is imported with the app; the MCP SDK only once MCP is used
    from botport.mcp.ask import ToolCall

log = logging.getLogger(__name__)

CALLER_KEY = "botport.mcp.caller"  # where the HTTP endpoint puts the request's Caller, in its ASGI scope
CANCELLED = ("client_cancelled", "the MCP client cancelled the call")
GONE = ("client_disconnected", "the client went away")

RequestId = str | int  # a JSON-RPC request's id


@dataclass
class Caller:
    """The identity behind one MCP request (an API key's, or the stdio server's own), and the tool
    calls that request runs."""

    identity: Identity
    # Why a closed connection stops the calls: on the 2026 protocol closing a call's stream is how a
    # client cancels it; on the 2025 one the client went away.
    closed: tuple[str, str] = GONE
    calls: list[ToolCall] = field(default_factory=list)
    gone: bool = False

    @contextmanager
    def running(self, call: ToolCall) -> Iterator[None]:
        if self.gone:  # the client left before the call began: it stops as soon as it starts
            call.stop(*self.closed)
        self.calls.append(call)
        try:
            yield
        finally:
            self.calls.remove(call)

    def disconnected(self) -> None:
        self.gone = True
        for call in list(self.calls):
            call.stop(*self.closed)


def _key(owner: str, request_id: RequestId) -> tuple[str, str]:
    # JSON-RPC ids are compared as sent: the number 1 and the string "1" are different ids.
    return owner, json.dumps(request_id)


class InFlight:
    """The tool calls running in this process, by (owner, JSON-RPC request id)."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], list[ToolCall]] = {}

    @contextmanager
    def running(self, owner: str, request_id: RequestId | None, call: ToolCall) -> Iterator[None]:
        if request_id is None:
            yield
            return
        key = _key(owner, request_id)
        self._calls.setdefault(key, []).append(call)
        try:
            yield
        finally:
            calls = self._calls[key]
            calls.remove(call)
            if not calls:
                del self._calls[key]

    def cancel(self, owner: str, request_id: RequestId) -> bool:
        """Stop the call this owner's cancel names. Two clients of one key may use the same ids (each
        counts from 1): a cancel that could name either stops neither, rather than the wrong one."""
        calls = self._calls.get(_key(owner, request_id), [])
        if len(calls) != 1:
            if calls:
                log.info("a cancel names %d running calls of one API key; none stopped", len(calls))
            return False
        calls[0].stop(*CANCELLED)
        return True
