"""StreamingASGITransport with small ASGI apps: it streams, it disconnects, it raises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from botport.asgi_transport import StreamingASGITransport

Scope = dict[str, Any]


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=StreamingASGITransport(app), base_url="http://emulator")


async def start(send: Any, status: int = 200) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]}
    )


async def test_chunks_arrive_before_the_app_finishes() -> None:
    # The app sends its second chunk only after the reader has the first one: a buffering transport
    # would deadlock here (and hit the timeout).
    reader_has_first = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"one", "more_body": True})
        await reader_has_first.wait()
        await send({"type": "http.response.body", "body": b"two", "more_body": False})

    async with client_for(app) as http, http.stream("GET", "/") as response:
        chunks = []
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
            reader_has_first.set()
    assert chunks == [b"one", b"two"]


async def test_request_reaches_the_app() -> None:
    seen: dict[str, Any] = {}

    async def echo(request: Request) -> JSONResponse:
        seen["body"] = await request.body()
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "auth": request.headers.get("authorization"),
                "host": request.headers.get("host"),
            },
            headers={"x-tt-logid": "log-1"},
        )

    app = Starlette(routes=[Route("/v3/chat/{rest:path}", echo, methods=["GET", "POST"])])
    async with httpx.AsyncClient(
        transport=StreamingASGITransport(app), base_url="http://emulator:8000"
    ) as http:
        response = await http.post(
            "/v3/chat/x%20y",
            params={"conversation_id": "c 1"},
            json={"a": "星"},
            headers={"Authorization": "Bearer t"},
        )
    assert response.status_code == 200
    assert response.headers["x-tt-logid"] == "log-1"
    assert response.json() == {
        "method": "POST",
        "path": "/v3/chat/x y",
        "query": {"conversation_id": "c 1"},
        "auth": "Bearer t",
        "host": "emulator:8000",
    }
    assert seen["body"] == '{"a":"星"}'.encode()


async def test_closing_early_disconnects_and_cancels_the_app() -> None:
    events: list[str] = []
    stopped = asyncio.Event()

    async def numbers() -> AsyncIterator[bytes]:
        try:
            for i in range(1000):
                yield f"{i}\n".encode()
                await asyncio.sleep(0.01)
        finally:
            events.append("generator closed")
            stopped.set()

    async def endpoint(request: Request) -> StreamingResponse:
        return StreamingResponse(numbers(), media_type="text/plain")

    app = Starlette(routes=[Route("/", endpoint)])
    transport = StreamingASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as http:
        async with http.stream("GET", "/") as response:
            async for chunk in response.aiter_raw():
                assert chunk == b"0\n"
                break
        await asyncio.wait_for(stopped.wait(), 10)
    assert events == ["generator closed"]
    assert not transport._tasks  # the app's task is over


async def test_receive_reports_the_disconnect() -> None:
    got: list[str] = []
    finished = asyncio.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        await start(send)
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        try:
            got.append((await receive())["type"])
        finally:
            finished.set()

    async with client_for(app) as http, http.stream("GET", "/") as response:
        async for _chunk in response.aiter_raw():
            break
    await asyncio.wait_for(finished.wait(), 10)
    # Either the app saw http.disconnect or it was cancelled while waiting: both end it.
    assert got in (["http.disconnect"], [])


async def test_exception_before_the_response_is_raised_to_the_caller() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        raise LookupError("broken app")

    async with client_for(app) as http:
        with pytest.raises(LookupError, match="broken app"):
            await http.get("/")


async def test_starlette_500_then_reraise_reaches_the_caller() -> None:
    async def endpoint(request: Request) -> JSONResponse:
        raise LookupError("broken endpoint")

    app = Starlette(routes=[Route("/", endpoint)])
    async with client_for(app) as http:
        with pytest.raises(LookupError, match="broken endpoint"):
            await http.get("/")


async def test_exception_mid_body_is_a_cut_stream() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise LookupError("died mid-body")

    async with client_for(app) as http, http.stream("GET", "/") as response:
        received = []
        with pytest.raises(httpx.RemoteProtocolError) as info:
            async for chunk in response.aiter_raw():
                received.append(chunk)
    assert received == [b"partial"]
    assert isinstance(info.value.__cause__, LookupError)


async def test_app_that_returns_without_a_response() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        return None

    async with client_for(app) as http:
        with pytest.raises(RuntimeError, match="without completing"):
            await http.get("/")


async def test_app_that_stops_mid_body_without_an_error() -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"x", "more_body": True})

    async with client_for(app) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get("/")


async def test_read_timeout_between_chunks_and_before_the_start() -> None:
    async def slow_body(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await asyncio.sleep(30)

    async def slow_start(scope: Scope, receive: Any, send: Any) -> None:
        await asyncio.sleep(30)

    for app in (slow_body, slow_start):
        transport = StreamingASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator", timeout=0.2) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get("/")
        assert not transport._tasks


async def test_transport_close_cancels_abandoned_apps() -> None:
    async def forever(scope: Scope, receive: Any, send: Any) -> None:
        await start(send)
        await send({"type": "http.response.body", "body": b"x", "more_body": True})
        await asyncio.sleep(30)

    transport = StreamingASGITransport(forever)
    http = httpx.AsyncClient(transport=transport, base_url="http://emulator")
    response = await http.send(http.build_request("GET", "/"), stream=True)
    assert response.status_code == 200
    await http.aclose()  # closes the transport, though the response itself was never closed
    assert not transport._tasks
    await response.aclose()
