"""Scripted stand-ins for Coze behind ``httpx.MockTransport``: recorded bodies, streams that record
whether they were closed, streams that fail part-way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from botport.upstream.client import CozeClient

DATA = Path(__file__).resolve().parent.parent / "data"
TOKEN = "pat_secret_test_token_0123456789"
LOGID = "20240619183210CAFEBABE0123456789"
BASE_URL = "https://api.coze.test"


def recorded(name: str) -> bytes:
    return (DATA / name).read_bytes()


class RecordingStream(httpx.AsyncByteStream):
    """A response body sent in chunks; remembers whether it was closed. ``fail_with`` is raised after
    the chunks; ``hold`` makes it wait (forever, unless set) after them instead."""

    def __init__(
        self,
        chunks: list[bytes],
        *,
        fail_with: Exception | None = None,
        hold: asyncio.Event | None = None,
    ) -> None:
        self.chunks = chunks
        self.fail_with = fail_with
        self.hold = hold
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_with is not None:
            raise self.fail_with

    async def aclose(self) -> None:
        self.closed = True


def chunked(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def sse_response(
    body: bytes | RecordingStream, *, logid: str | None = LOGID, status: int = 200
) -> httpx.Response:
    headers = {"content-type": "text/event-stream; charset=utf-8"}
    if logid:
        headers["x-tt-logid"] = logid
    stream = body if isinstance(body, RecordingStream) else RecordingStream([body])
    return httpx.Response(status, headers=headers, stream=stream)


def envelope_response(
    data: Any = None,
    *,
    code: int = 0,
    msg: str = "",
    status: int = 200,
    logid: str | None = LOGID,
    detail_logid: str | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if data is not None:
        body["data"] = data
    if detail_logid:
        body["detail"] = {"logid": detail_logid}
    headers = {"x-tt-logid": logid} if logid else {}
    return httpx.Response(status, json=body, headers=headers)


def sse_event(name: str, data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event:{name}\ndata:{text}\n\n".encode()


def chat_json(status: str = "in_progress", **extra: Any) -> dict[str, Any]:
    chat = {"id": "chat-1", "conversation_id": "conv-1", "bot_id": "bot-1", "status": status}
    chat.update(extra)
    return chat


Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, **kwargs: Any) -> CozeClient:
    return CozeClient(
        base_url=BASE_URL, token=SecretStr(TOKEN), transport=httpx.MockTransport(handler), **kwargs
    )


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)
