"""A Coze chat stream: SSE events from one upstream response, decoded into typed :class:`ChatEvent` s.

The rules of the stream live here: ``done`` ends it, ``requires_action`` is yielded and ends it, an
``error`` event or ``conversation.chat.failed`` raises, and a stream that stops before any of these is
a cut connection. Errors never undo what was already yielded, so the caller can keep a partial answer.
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from botport.errors import (
    ChatFailedError,
    CozeAPIError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamOverloadedError,
    UpstreamProtocolError,
    UpstreamTimeout,
    coze_error,
)
from botport.sse import ServerSentEvent, SSEDecoder
from botport.upstream.events import ChatEvent, ChatEventType
from botport.upstream.models import Chat, LastError, Message

# Chat events after which the turn is over (the stream may still send ``done``).
_FINAL_CHAT_EVENTS = {
    ChatEventType.CHAT_COMPLETED,
    ChatEventType.CHAT_REQUIRES_ACTION,
    ChatEventType.CHAT_CANCELED,
}


def transport_error(exc: httpx.HTTPError, *, logid: str | None, mid_stream: bool) -> UpstreamError:
    """The botport error for an httpx failure. Messages name the kind of failure, never a header."""
    if isinstance(exc, httpx.PoolTimeout):
        return UpstreamOverloadedError(
            "every connection to Coze is in use (BOTPORT_UPSTREAM_MAX_CONNECTIONS); try again in a moment",
            logid=logid,
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return UpstreamTimeout("connect timeout: Coze did not accept the connection in time", logid=logid)
    if isinstance(exc, httpx.ReadTimeout):
        where = "inside the stream" if mid_stream else "waiting for the response"
        return UpstreamTimeout(f"read timeout: no data from Coze {where}", logid=logid)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"timeout talking to Coze ({type(exc).__name__})", logid=logid)
    if isinstance(exc, httpx.ConnectError):
        return UpstreamConnectionError("cannot connect to Coze", logid=logid)
    if mid_stream:
        return UpstreamConnectionError(f"stream cut: {type(exc).__name__}", logid=logid)
    return UpstreamConnectionError(f"connection to Coze failed: {type(exc).__name__}", logid=logid)


def _parse(model: type[BaseModel], sse: ServerSentEvent, logid: str | None) -> Any:
    try:
        return model.model_validate_json(sse.data)
    except ValidationError as exc:
        raise UpstreamProtocolError(f"malformed data in '{sse.event}' event", logid=logid) from exc


def _error_event(sse: ServerSentEvent, logid: str | None) -> CozeAPIError:
    try:
        body = json.loads(sse.data) if sse.data.strip() else {}
    except json.JSONDecodeError as exc:
        raise UpstreamProtocolError("malformed data in 'error' event", logid=logid) from exc
    if not isinstance(body, dict):
        body = {}
    code = body.get("code")
    msg = str(body.get("msg") or "")
    if isinstance(code, int) and not isinstance(code, bool) and code > 0:
        return coze_error(code, msg, logid=logid)
    return CozeAPIError(msg or "unknown error", logid=logid)


def decode_chat_event(sse: ServerSentEvent, *, logid: str | None = None) -> ChatEvent:
    """One SSE event as a ChatEvent. Raises for ``error`` events and malformed data."""
    kind = ChatEventType(sse.event)
    if kind is ChatEventType.ERROR:
        raise _error_event(sse, logid)
    probe = ChatEvent(type=kind, name=sse.event)
    if probe.is_chat_event:
        return ChatEvent(type=kind, name=sse.event, chat=_parse(Chat, sse, logid), data=sse.data)
    if probe.is_message_event:
        return ChatEvent(type=kind, name=sse.event, message=_parse(Message, sse, logid), data=sse.data)
    return ChatEvent(type=kind, name=sse.event, data=sse.data)


def _chat_failed(chat: Chat, logid: str | None) -> ChatFailedError:
    error = chat.last_error or LastError()
    return ChatFailedError(error.msg or "the chat failed", upstream_code=error.code or None, logid=logid)


class ChatStream:
    """Async iterator of :class:`ChatEvent` over one streaming response.

    Use it inside ``client.stream_chat(...)``, which closes the response however the iteration ends.
    ``final_chat`` is the Chat of the completing (or requires_action) event, once seen.
    """

    def __init__(
        self, response: httpx.Response, *, logid: str | None, redact: Callable[[str], str] | None = None
    ) -> None:
        self.logid = logid
        self._redact = redact
        self.http_status = response.status_code
        self.final_chat: Chat | None = None
        self._response = response
        self._bytes: AsyncIterator[bytes] = response.aiter_bytes()
        self._decoder = SSEDecoder()
        self._ready: deque[ServerSentEvent] = deque()
        self._finished = False
        self._done = False  # Coze said ``done``: the body should end at once

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> ChatEvent:
        while not self._finished:
            sse = await self._next_sse()
            if sse is None:
                self._finished = True
                if self.final_chat is None:
                    raise UpstreamConnectionError(
                        "stream cut: it ended before the chat finished", logid=self.logid
                    )
                break
            try:
                event = decode_chat_event(sse, logid=self.logid)
            except UpstreamError:
                self._finished = True
                raise
            if event.type is ChatEventType.DONE:
                self._finished = self._done = True
                break
            if event.type is ChatEventType.CHAT_FAILED and event.chat is not None:
                self._finished = True
                raise _chat_failed(event.chat, self.logid)
            if event.type in _FINAL_CHAT_EVENTS:
                self.final_chat = event.chat
            if event.type is ChatEventType.CHAT_REQUIRES_ACTION:
                self._finished = True  # nothing follows but ``done``: the caller submits tool outputs
            return event
        raise StopAsyncIteration

    async def _next_sse(self) -> ServerSentEvent | None:
        """The next decoded SSE event, or None at the end of the body."""
        while not self._ready:
            try:
                chunk = await self._bytes.__anext__()
            except StopAsyncIteration:
                return None
            except httpx.HTTPError as exc:
                self._finished = True
                raise transport_error(exc, logid=self.logid, mid_stream=True) from exc
            self._ready.extend(self._decoder.feed(chunk))
        sse = self._ready.popleft()
        if self._redact is not None:  # Coze may echo the token in an error message
            data = self._redact(sse.data)
            if data is not sse.data:
                sse = replace(sse, data=data)
        return sse

    async def aclose(self) -> None:
        """Stop reading and close the response. Safe to call twice.

        After ``done``, the (empty) rest of the body is read first: a response read to its end leaves
        its connection in the pool for the next turn; one closed early is torn down, and the next turn
        pays a new TCP connection. That read is bounded by the read timeout, not by a cancel (see
        :meth:`botport.upstream.client.CozeClient._stream`)."""
        self._finished = True
        if self._done:
            self._done = False
            with contextlib.suppress(httpx.HTTPError):
                async for _ in self._bytes:
                    pass
        closer = getattr(self._bytes, "aclose", None)
        if closer is not None:
            await closer()
        await self._response.aclose()
