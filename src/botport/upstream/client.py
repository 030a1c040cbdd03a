"""The async Coze v3 client: one shared ``httpx.AsyncClient``, typed results, errors from
:mod:`botport.errors` that always carry Coze's log id.

::

    async with CozeClient(base_url=..., token=SecretStr("pat_...")) as coze:
        async with coze.stream_chat(bot_id=..., user_id=..., messages=[EnterMessage.user_text("hi")]) as s:
            async for event in s:
                ...

Tests and demo mode pass ``transport=`` (``httpx.MockTransport`` or the in-process emulator).
The calls about the token, its workspaces and bots are in :mod:`botport.upstream.catalog`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from botport import __version__
from botport.errors import (
    BotportError,
    UpstreamHTTPError,
    UpstreamOverloadedError,
    UpstreamProtocolError,
    coze_error,
)
from botport.redaction import Redactor
from botport.settings import COZE_COM
from botport.upstream.catalog import CatalogCalls
from botport.upstream.detached import DetachedExchanges
from botport.upstream.files import FileCalls
from botport.upstream.models import Chat, EnterMessage, ToolOutput, chat_body
from botport.upstream.netio import coze_transport
from botport.upstream.oauth import CozeOAuthTokens, OAuthBearer
from botport.upstream.pools import StreamPools
from botport.upstream.stream import ChatStream, transport_error

__all__ = ["ChatStream", "CozeClient"]

logger = logging.getLogger("botport.upstream")

_LOGID_HEADER = "x-tt-logid"
POOL_WAIT = 5.0  # seconds a request may wait for a free connection to Coze
SHORT_CALL_CONNECTIONS = 32  # connections beyond the streams' count, for cancels
CLOSE_WAIT = 5.0  # seconds aclose() waits for streams still being closed
CLOSE_INLINE = 0.1  # seconds a turn waits for its stream's close before going on without it
KEEPALIVE_CONNECTIONS = 100  # idle connections kept open for reuse
# Drop an idle connection before the server does: reusing one just as the server closes it (uvicorn
# after 5 s, httpx's own default) fails the request with a ReadError that is nobody's fault.
KEEPALIVE_EXPIRY = 4.0
_EXCERPT_CHARS = 200

_Model = TypeVar("_Model", bound=BaseModel)
FeedbackType = Literal["like", "unlike"]


class CozeClient(CatalogCalls, FileCalls):
    """Coze v3 over HTTP. Owns its ``httpx.AsyncClient`` unless one is passed in as ``http``."""

    def __init__(
        self,
        *,
        token: SecretStr | CozeOAuthTokens,
        base_url: str = COZE_COM,
        http: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        max_connections: int | None = None,
    ) -> None:
        if http is not None and transport is not None:
            raise ValueError("pass either http or transport, not both")
        self._base_url = base_url.rstrip("/")
        self._token = token
        # Every string from Coze passes it: Coze may echo the token back (botport.redaction). An OAuth
        # app's access tokens are sent by ``_auth`` and added to its redactor as they are issued.
        if isinstance(token, SecretStr):
            self._redact, self._auth = Redactor([token.get_secret_value()]), None
        else:
            self._redact, self._auth = token.redactor, OAuthBearer(token)
        # A write is short: bound it like a connect. Waiting for a free connection (the pool) is
        # bounded shorter: past it the request is refused as overloaded (503), not failed.
        self._timeout = httpx.Timeout(
            connect=connect_timeout,
            read=read_timeout,
            write=connect_timeout,
            pool=min(connect_timeout, POOL_WAIT),
        )
        # httpx keeps 100 connections by default: the 101st concurrent stream would wait. Size it
        # deliberately (every running turn holds one connection for its whole stream).
        # Streams are admitted by botport's own count, before httpx's pool: httpx re-scans its whole
        # queue of waiting requests whenever one is added or leaves, so thousands queued there stall
        # the event loop. Past the count, a new stream waits POOL_WAIT, then is refused (503). The
        # pool itself keeps a few more connections for the short calls (a cancel must get through).
        self._stream_slots = asyncio.Semaphore(max_connections) if max_connections else None
        self._detached = DetachedExchanges()  # no cancel reaches httpcore (botport.upstream.detached)
        self._owns_http = http is None
        if http is None and transport is None and max_connections:
            # On the network: the short calls get a pool of their own (a cancel must get through
            # when every stream connection is taken), the streams small pools (botport.upstream.pools).
            self._tls = ssl.create_default_context()  # one for every pool: each would load the CAs again
            http = self._pool(SHORT_CALL_CONNECTIONS, self._timeout)
            # Within botport's own count a stream always has a place in its pool: no pool timeout there
            # (under a saturated loop it fired before the pool could hand over a free connection).
            t = self._timeout
            stream_timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=None)
            self._streams: StreamPools | None = StreamPools(
                lambda size: self._pool(size, stream_timeout), max_connections
            )
        else:  # a given client or transport (tests, the demo's in-process emulator): one pool for all
            limits = httpx.Limits(
                max_connections=max_connections + SHORT_CALL_CONNECTIONS if max_connections else None,
                max_keepalive_connections=KEEPALIVE_CONNECTIONS,
                keepalive_expiry=KEEPALIVE_EXPIRY,
            )
            http = http or httpx.AsyncClient(transport=transport, timeout=self._timeout, limits=limits)
            self._streams = None
        self._http = http

    def _pool(self, size: int, timeout: httpx.Timeout) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=size,
            max_keepalive_connections=min(size, KEEPALIVE_CONNECTIONS),
            keepalive_expiry=KEEPALIVE_EXPIRY,
        )
        return httpx.AsyncClient(transport=coze_transport(limits, self._tls), timeout=timeout)

    async def aclose(self) -> None:
        await self._detached.wait_at_most(CLOSE_WAIT)
        if self._owns_http:
            await self._http.aclose()
        if self._streams is not None:
            await self._streams.aclose()

    async def __aenter__(self) -> CozeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # --- chat -------------------------------------------------------------------------------------

    def stream_chat(
        self,
        *,
        bot_id: str,
        user_id: str,
        messages: Sequence[EnterMessage],
        conversation_id: str | None = None,
        custom_variables: Mapping[str, str] | None = None,
        meta_data: Mapping[str, str] | None = None,
    ) -> AbstractAsyncContextManager[ChatStream]:
        """Start a turn and stream it: ``async with client.stream_chat(...) as stream``."""
        body = chat_body(bot_id, user_id, messages, custom_variables, meta_data)
        params = {"conversation_id": conversation_id} if conversation_id else None
        return self._stream("/v3/chat", params=params, body=body)

    def stream_submit_tool_outputs(
        self, *, conversation_id: str, chat_id: str, tool_outputs: Sequence[ToolOutput]
    ) -> AbstractAsyncContextManager[ChatStream]:
        """Continue a ``requires_action`` chat with tool results, streaming the rest of the turn."""
        body = {"tool_outputs": [t.model_dump() for t in tool_outputs], "stream": True}
        params = {"conversation_id": conversation_id, "chat_id": chat_id}
        return self._stream("/v3/chat/submit_tool_outputs", params=params, body=body)

    async def cancel_chat(self, *, conversation_id: str, chat_id: str) -> Chat:
        body = {"conversation_id": conversation_id, "chat_id": chat_id}
        chat, _ = await self._call(Chat, "POST", "/v3/chat/cancel", body=body)
        return chat

    # --- conversations and feedback ---------------------------------------------------------------

    async def delete_conversation(self, conversation_id: str) -> None:
        """Delete a conversation and its messages. Coze refuses while a chat runs in it (4016)."""
        await self._request("DELETE", f"/v1/conversations/{quote(conversation_id, safe='')}")

    async def set_message_feedback(
        self, *, conversation_id: str, message_id: str, feedback_type: FeedbackType, comment: str | None
    ) -> None:
        """Like or unlike an answer (replacing any earlier feedback on it), with an optional comment."""
        body = {"feedback_type": feedback_type, **({"comment": comment} if comment else {})}
        await self._request("POST", _feedback_path(conversation_id, message_id), body=body)

    async def delete_message_feedback(self, *, conversation_id: str, message_id: str) -> None:
        """Remove the feedback on a message (Coze answers "not found" when it has none)."""
        await self._request("DELETE", _feedback_path(conversation_id, message_id))

    # --- plumbing ---------------------------------------------------------------------------------

    def _build(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any | None,
        http: httpx.AsyncClient | None = None,
    ) -> httpx.Request:
        """A request with the timeouts of the client that will send it (a stream's pool has none)."""
        headers = {
            "User-Agent": f"botport/{__version__}",
            "Accept": "text/event-stream, application/json",
        }
        if isinstance(self._token, SecretStr):  # an OAuth app's token is set when sent (``_auth``)
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return (http or self._http).build_request(
            method,
            self._base_url + path,
            params=dict(params) if params else None,
            json=body,
            headers=headers,
            timeout=self._timeout if http is None else http.timeout,
        )

    async def _send(
        self, request: httpx.Request, *, stream: bool, http: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        try:
            response = await (http or self._http).send(request, stream=stream, auth=self._auth)
        except httpx.HTTPError as exc:
            logger.debug("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
            raise transport_error(exc, logid=None, mid_stream=False) from exc
        logger.debug(
            "%s %s -> %s logid=%s",
            request.method,
            request.url.path,
            response.status_code,
            response.headers.get(_LOGID_HEADER),
        )
        return response

    @asynccontextmanager
    async def _stream(
        self, path: str, *, params: Mapping[str, str] | None, body: Any
    ) -> AsyncIterator[ChatStream]:
        """A stream on a connection of its own. Whatever ends it, the response is closed (the rest of
        its body read, so the connection goes back to the pool) in a task of its own, and the slot is
        freed after that. httpcore's pool can orphan a connection when a task is cancelled inside it
        (encode/httpcore#1093): no consumer's cancel, and no timeout of ours, ever reaches it."""
        await self._admit_stream()
        index, http = self._streams.take() if self._streams is not None else (-1, None)
        release = partial(self._release_stream, index)
        try:
            stream = await self._open_stream(http, path, params=params, body=body)
        except BaseException:
            release()
            raise
        try:
            yield stream
        finally:
            closing = self._detached.start(stream.aclose())
            closing.add_done_callback(lambda _: release())
            # Closed at once, normally; a body that does not end after ``done`` is read on, not waited for.
            await asyncio.wait([closing], timeout=CLOSE_INLINE)

    async def _admit_stream(self) -> None:
        slots = self._stream_slots
        if slots is None:
            return
        try:
            async with asyncio.timeout(self._timeout.pool):
                await slots.acquire()
        except TimeoutError:
            raise UpstreamOverloadedError(
                "every connection to Coze is in use (BOTPORT_UPSTREAM_MAX_CONNECTIONS); try again in a moment"
            ) from None

    def _release_stream(self, index: int) -> None:
        if self._stream_slots is not None:
            self._stream_slots.release()
        if self._streams is not None and index >= 0:
            self._streams.give_back(index)

    async def _open_stream(
        self, http: httpx.AsyncClient | None, path: str, *, params: Mapping[str, str] | None, body: Any
    ) -> ChatStream:
        # Sent in a task of its own: a consumer cancelled meanwhile leaves it to finish, then close.
        sending = self._detached.start(
            self._send(self._build("POST", path, params, body, http), stream=True, http=http)
        )
        try:
            response = await asyncio.shield(sending)
        except asyncio.CancelledError:
            sending.add_done_callback(self._detached.close_when_sent)
            raise
        stream = ChatStream(response, logid=self._logid(response), redact=self._redact)
        content_type = response.headers.get("content-type", "")
        if response.status_code < 400 and content_type.startswith("text/event-stream"):
            return stream
        raise await self._detached.run(self._refusal(response, stream.logid, content_type))

    async def _refusal(self, response: httpx.Response, logid: str | None, content_type: str) -> BotportError:
        """What a response that is not an event stream says (it is read whole, then closed)."""
        try:
            await self._read_body(response)
            # An envelope where a stream was asked for: only an error explains it.
            self._envelope_data(response)
        except BotportError as exc:
            return exc
        finally:
            await response.aclose()
        return UpstreamProtocolError(
            f"expected an event stream, got '{content_type or 'no content type'}'",
            logid=logid,
            http_status=response.status_code,
        )

    async def _read_body(self, response: httpx.Response) -> None:
        try:
            await response.aread()
        except httpx.HTTPError as exc:
            raise transport_error(exc, logid=self._logid(response), mid_stream=False) from exc

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any | None = None,
    ) -> tuple[Any, str | None]:
        """``data`` of the envelope and the log id of the response."""
        request = self._build(method, path, params, body)
        response = await self._detached.run(self._exchange(request))
        return self._envelope_data(response), self._logid(response)

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        response = await self._send(request, stream=True)
        try:
            await self._read_body(response)
        finally:
            await response.aclose()
        return response

    async def _call(
        self,
        model: type[_Model],
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any | None = None,
    ) -> tuple[_Model, str | None]:
        data, logid = await self._request(method, path, params=params, body=body)
        return _validate(model, data, path, logid), logid

    def _envelope_data(self, response: httpx.Response) -> Any:
        """``data`` of a Coze envelope; the typed error for ``code > 0`` or a failed HTTP status."""
        logid = self._logid(response)
        status = response.status_code
        # Redacted before parsing: Coze may echo the caller's token in ``msg`` (botport.redaction).
        body = self._redact(response.content.decode("utf-8", errors="replace"))
        try:
            envelope = json.loads(body) if body.strip() else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            envelope = None
            if status < 400:
                raise UpstreamProtocolError("Coze sent a body that is not JSON", logid=logid) from None
        if isinstance(envelope, dict) and isinstance(envelope.get("code"), int):
            detail = envelope.get("detail")
            if not logid and isinstance(detail, dict) and isinstance(detail.get("logid"), str):
                logid = detail["logid"]
            code = envelope["code"]
            if code > 0:
                raise coze_error(code, str(envelope.get("msg") or ""), logid=logid, http_status=status)
            if status < 400:
                return envelope.get("data")
        if status >= 400:
            raise UpstreamHTTPError(
                f"Coze answered HTTP {status}: {self._excerpt(response)}", logid=logid, http_status=status
            )
        raise UpstreamProtocolError("Coze sent JSON without an envelope", logid=logid)

    def _logid(self, response: httpx.Response) -> str | None:
        return self._redact.optional(response.headers.get(_LOGID_HEADER))

    def _excerpt(self, response: httpx.Response) -> str:
        # Redacted before cutting, so that no part of an echoed token survives.
        text = self._redact(response.content[:65536].decode("utf-8", errors="replace"))
        if "html" in response.headers.get("content-type", "") or text.lstrip()[:1] == "<":
            # A proxy's error page: its words, not its markup (the page shows messages as text).
            text = _TAG.sub(" ", _HIDDEN.sub(" ", text))
        return " ".join(text.split())[:_EXCERPT_CHARS] or "(empty body)"


def _feedback_path(conversation_id: str, message_id: str) -> str:
    conversation, message = quote(conversation_id, safe=""), quote(message_id, safe="")
    return f"/v1/conversations/{conversation}/messages/{message}/feedback"


_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def _validate(model: type[_Model], data: Any, what: str, logid: str | None) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UpstreamProtocolError(f"unexpected data from {what}", logid=logid) from exc
