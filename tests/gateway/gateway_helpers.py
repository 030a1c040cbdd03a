"""Shared pieces of the gateway tests: an app on the emulator (or a mock), a recording transport,
an SSE frame parser.

Most tests run botport in "token mode" against an emulator of their own, with zero delays, so that
they are fast and can watch what goes upstream. Demo mode is tested where it is the point.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr
from starlette.applications import Starlette

from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID, FAILING_BOT_ID, SLOW_BOT_ID, TOOL_BOT_ID, EmulatedBot
from botport.emulator.faults import Faults
from botport.emulator.plan import TurnContext, TurnPlan
from botport.emulator.scripts import demo_script, failing_script, weather_script
from botport.settings import BotConfig, Settings

# Recognisable, so a leak is easy to find in any body, header or log line.
TOKEN = "pat_TESTSECRET_do_not_leak_0123456789abcdef"
BASE = "http://gateway.test"


def slow_script(ctx: TurnContext) -> TurnPlan:
    """The demo script without reasoning, so that answer text starts to flow at once."""
    return replace(demo_script(ctx), reasoning="")


BOT_SCRIPTS = {
    "demo": (DEMO_BOT_ID, demo_script),
    "weather": (TOOL_BOT_ID, weather_script),
    "slow": (SLOW_BOT_ID, slow_script),
    "failing": (FAILING_BOT_ID, failing_script),
}
# The slow bot streams a plain question in a couple of seconds; "/slow ..." takes 0.3 s a word (~15 s).
SLOW_FAULTS = Faults(delta_delay=0.05)


def emulated_bots(faults: dict[str, Faults] | None = None) -> list[EmulatedBot]:
    """The demo bots' scripts with no delays (or the given faults, by slug)."""
    faults = faults or {}
    return [
        EmulatedBot(
            id=bot_id,
            name=slug.title(),
            description=f"{slug} bot",
            greeting=f"hello from {slug}",
            script=script,
            faults=faults.get(slug, SLOW_FAULTS if slug == "slow" else Faults()),
        )
        for slug, (bot_id, script) in BOT_SCRIPTS.items()
    ]


def bot_configs() -> list[BotConfig]:
    return [
        BotConfig(slug=slug, bot_id=bot_id, name=slug.title(), description=f"{slug} bot")
        for slug, (bot_id, _) in BOT_SCRIPTS.items()
    ]


def token_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings with a Coze token and the four bots configured (not demo mode)."""
    values: dict[str, Any] = {
        "coze_token": SecretStr(TOKEN),
        "coze_base_url": "http://coze.test",
        "bots": bot_configs(),
        "data_dir": data_dir,
        "secret_key": SecretStr("a-test-secret-key-for-cookies"),
        **overrides,
    }
    return Settings(**values)


def emulator(faults: dict[str, Faults] | None = None) -> Starlette:
    return create_emulator_app(tokens=[TOKEN], bots=emulated_bots(faults))


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any


class _TrackedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, on_close: Callable[[], None]) -> None:
        self._inner = inner
        self._on_close = on_close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        self._on_close()
        await self._inner.aclose()


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """Forwards to ``inner`` and records every request, and how many response streams were closed."""

    inner: httpx.AsyncBaseTransport
    requests: list[Recorded] = field(default_factory=list)
    closed: int = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw = await request.aread()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:  # not JSON: a file upload's multipart body, kept as bytes
            body = raw
        self.requests.append(
            Recorded(
                request.method,
                request.url.path,
                dict(request.url.params),
                dict(request.headers),
                body,
            )
        )
        response = await self.inner.handle_async_request(request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_TrackedStream(response.stream, self._closed_one),
            request=request,
            extensions=response.extensions,
        )

    def _closed_one(self) -> None:
        self.closed += 1

    def paths(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def aclose(self) -> None:
        await self.inner.aclose()


def recording(app: Starlette | None = None) -> RecordingTransport:
    return RecordingTransport(StreamingASGITransport(app if app is not None else emulator()))


@dataclass
class Gateway:
    """A started botport app and a browser-like client (its own cookie jar)."""

    app: FastAPI
    client: httpx.AsyncClient

    def other_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """Another caller: a fresh cookie jar, so another identity."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url=BASE, **kwargs)

    async def conversation(self, bot: str | None = None) -> str:
        body = {"bot": bot} if bot else {}
        response = await self.client.post("/api/conversations", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def send(self, conversation_id: str, content: str, **kwargs: Any) -> list[Frame]:
        return await send_stream(self.client, conversation_id, content, **kwargs)

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        response = await self.client.get(f"/api/conversations/{conversation_id}/messages")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items


@asynccontextmanager
async def started(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run the app's lifespan around the block (in-process clients do not)."""
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def gateway(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[Gateway]:
    app = create_app(settings, upstream_transport=transport)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE)
    async with started(app), client:
        yield Gateway(app, client)


@dataclass(frozen=True)
class Frame:
    event: str
    data: dict[str, Any]
    id: int | None = None  # the sequence number to resume after


def parse_frames(raw: bytes) -> list[Frame]:
    """botport's frames: ``id:``, ``event:`` + one ``data:`` line; comment lines are skipped."""
    frames = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        event, data, seq = None, None, None
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                event = line[7:].decode()
            elif line.startswith(b"id: "):
                seq = int(line[4:])
            elif line.startswith(b"data: "):
                assert data is None, f"more than one data line in {block!r}"
                data = json.loads(line[6:])
        if event is not None:
            assert data is not None, block
            frames.append(Frame(event, data, seq))
    return frames


def events_of(frames: Iterable[Frame]) -> list[str]:
    return [f.event for f in frames]


def only(frames: Iterable[Frame], event: str) -> Frame:
    found = [f for f in frames if f.event == event]
    assert len(found) == 1, f"{event}: {found}"
    return found[0]


async def send_stream(
    client: httpx.AsyncClient, conversation_id: str, content: str, **kwargs: Any
) -> list[Frame]:
    response = await client.post(
        f"/api/conversations/{conversation_id}/messages", json={"content": content, "stream": True}, **kwargs
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return parse_frames(response.content)


class FrameReader:
    """Reads botport's SSE frames from a streaming response as they arrive (for live servers)."""

    def __init__(self, response: httpx.Response) -> None:
        self._chunks = response.aiter_bytes()
        self._buffer = b""
        self.frames: list[Frame] = []

    async def next(self) -> Frame | None:
        """The next frame, or None at the end of the stream."""
        while b"\n\n" not in self._buffer:
            try:
                self._buffer += await anext(self._chunks)
            except StopAsyncIteration:
                return None
        block, self._buffer = self._buffer.split(b"\n\n", 1)
        parsed = parse_frames(block + b"\n\n")
        if not parsed:  # a comment (keep-alive)
            return await self.next()
        self.frames.append(parsed[0])
        return parsed[0]

    async def until(self, predicate: Callable[[list[Frame]], bool]) -> list[Frame]:
        while not predicate(self.frames):
            if await self.next() is None:
                raise AssertionError(f"the stream ended first: {events_of(self.frames)}")
        return self.frames

    async def rest(self) -> list[Frame]:
        while await self.next() is not None:
            pass
        return self.frames

    @property
    def text(self) -> str:
        return "".join(f.data["text"] for f in self.frames if f.event == "text.delta")


def text_deltas(count: int) -> Callable[[list[Frame]], bool]:
    return lambda frames: sum(f.event == "text.delta" for f in frames) >= count


async def eventually(check: Callable[[], Any], *, timeout: float = 10.0) -> Any:
    """Poll a check (plain or async) until it returns something truthy, or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)
