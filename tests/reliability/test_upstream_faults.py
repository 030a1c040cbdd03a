"""Coze fails under a running turn, with real processes: ``botport serve`` in token mode, the Coze
emulator as a process of its own, and a TCP proxy between them that can cut or refuse connections.

Each fault — Coze killed, frozen, cut off, answering 5xx, sending an ``error`` event, down before the
turn — must end the client's stream with an error frame that says what happened, keep the question
and the partial answer (``failed``), leave botport serving, and leave the conversation ready for the
next turn once Coze is back. (The same faults in-process, every code checked: tests/gateway/
test_gateway_failures.py; botport itself killed: test_crash_recovery.py.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from crash_helpers import (
    LONG_QUESTION,
    Botport,
    Stream,
    api_client,
    create_conversations,
    emulator_process,
    free_port,
    messages,
    send,
    stream_turn,
)

from net_faults import CuttableProxy

pytestmark = [pytest.mark.live, pytest.mark.timeout(90)]

READ_TIMEOUT = 2.0  # botport's longest silence inside a stream, short for the frozen case


@contextmanager
def botport_via(work_dir: Path, upstream_url: str) -> Iterator[Botport]:
    server = Botport(work_dir, upstream_url, settings={"BOTPORT_READ_TIMEOUT": str(READ_TIMEOUT)})
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def _streaming(client: httpx.AsyncClient, conversation_id: str) -> tuple[Stream, asyncio.Task[None]]:
    """A long streamed turn, once some of its answer text has arrived."""
    stream = Stream(conversation_id)
    task = asyncio.create_task(stream_turn(client, stream, LONG_QUESTION))
    deadline = time.monotonic() + 30
    while len(stream.deltas) < 3:
        assert not task.done(), f"the turn ended before the fault: {stream.ended_by} {stream.error}"
        assert time.monotonic() < deadline, "no answer text in time"
        await asyncio.sleep(0.05)
    return stream, task


async def _ended_with(stream: Stream, task: asyncio.Task[None], code: str, *, within: float) -> None:
    started = time.monotonic()
    await asyncio.wait_for(task, timeout=within)
    assert stream.ended_by == "eof", stream.ended_by  # the stream ended properly, with a frame
    assert stream.events[-1] == "error" and stream.error is not None, stream.events[-5:]
    assert stream.error["code"] == code, stream.error
    assert stream.error["turn_status"] == "failed"
    assert time.monotonic() - started < within


async def _kept_as_failed(client: httpx.AsyncClient, stream: Stream, code: str) -> None:
    question, answer = (await messages(client, stream.conversation_id))[-2:]
    assert (question["role"], question["content"], question["status"]) == ("user", LONG_QUESTION, "completed")
    assert (answer["id"], answer["status"], answer["error"]["code"]) == (stream.message_id, "failed", code)
    assert answer["content"] == stream.received() != ""  # the partial answer, as the client saw it


async def _next_turn_works(client: httpx.AsyncClient, conversation_id: str) -> None:
    for _ in range(40):  # Coze may still hold the cut chat for a moment (409 with Retry-After)
        answer = await send(client, conversation_id, "are you back?")
        if answer.status_code != 409:
            break
        await asyncio.sleep(0.25)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed"


async def test_coze_killed_mid_answer(tmp_path: Path) -> None:
    port = free_port()
    with emulator_process(tmp_path, port) as coze, botport_via(tmp_path, coze.url) as server:
        key = server.create_key()
        async with api_client(server, key, 4) as client:
            (cid,) = await create_conversations(client, 1)
            stream, task = await _streaming(client, cid)
            os.kill(coze.process.pid, signal.SIGKILL)
            await _ended_with(stream, task, "upstream_unreachable", within=10)
            await _kept_as_failed(client, stream, "upstream_unreachable")
            down = await send(client, cid, "anyone there?")  # Coze is down: a clear 502, nothing hangs
            assert down.status_code == 502 and down.json()["error"]["code"] == "upstream_unreachable"
            assert (await client.get("/healthz")).status_code == 200
            with emulator_process(tmp_path, port):  # Coze is back (it lost every conversation)
                await _next_turn_works(client, cid)


async def test_coze_frozen_mid_answer(tmp_path: Path) -> None:
    with emulator_process(tmp_path) as coze, botport_via(tmp_path, coze.url) as server:
        key = server.create_key()
        async with api_client(server, key, 4) as client:
            (cid,) = await create_conversations(client, 1)
            stream, task = await _streaming(client, cid)
            os.kill(coze.process.pid, signal.SIGSTOP)  # the connection stays open; nothing more comes
            await _ended_with(stream, task, "upstream_timeout", within=READ_TIMEOUT + 8)
            await _kept_as_failed(client, stream, "upstream_timeout")
            assert (await client.get("/healthz")).status_code == 200
            os.kill(coze.process.pid, signal.SIGCONT)
            await _next_turn_works(client, cid)


async def test_coze_cut_off_mid_answer_and_down_before_a_turn(tmp_path: Path) -> None:
    with emulator_process(tmp_path) as coze:
        proxy = CuttableProxy(coze.url)
        try:
            with botport_via(tmp_path, proxy.url) as server:
                key = server.create_key()
                async with api_client(server, key, 4) as client:
                    (cid,) = await create_conversations(client, 1)
                    stream, task = await _streaming(client, cid)
                    proxy.down = True
                    proxy.cut()  # a network drop between botport and Coze
                    await _ended_with(stream, task, "upstream_unreachable", within=10)
                    await _kept_as_failed(client, stream, "upstream_unreachable")
                    refused = await send(client, cid, "still there?")  # every connection is refused
                    assert refused.status_code == 502, refused.text
                    assert refused.json()["error"]["code"] == "upstream_unreachable"
                    proxy.down = False
                    await _next_turn_works(client, cid)
        finally:
            proxy.close()


async def test_an_error_event_from_coze(tmp_path: Path) -> None:
    with emulator_process(tmp_path) as coze, botport_via(tmp_path, coze.url) as server:
        key = server.create_key()
        async with api_client(server, key, 4) as client:
            (cid,) = await create_conversations(client, 1)
            stream = Stream(cid)
            await asyncio.wait_for(stream_turn(client, stream, "/error now"), timeout=30)
            assert stream.error is not None and stream.error["code"] == "coze_error", stream.error
            assert stream.error["upstream_code"] == 5000 and stream.error["logid"]
            answer = (await messages(client, cid))[-1]
            assert (answer["status"], answer["content"]) == ("failed", stream.received())
            await _next_turn_works(client, cid)


class _BadGateway(BaseHTTPRequestHandler):
    """What a load balancer in front of Coze says when Coze is down: 502 with an HTML page."""

    def _answer(self) -> None:
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


async def test_coze_answering_5xx(tmp_path: Path) -> None:
    gateway = ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        with botport_via(tmp_path, f"http://127.0.0.1:{gateway.server_address[1]}") as server:
            key = server.create_key()
            async with api_client(server, key, 4) as client:
                (cid,) = await create_conversations(client, 1)
                stream = Stream(cid)
                await asyncio.wait_for(stream_turn(client, stream, "hi"), timeout=30)
                assert stream.error is not None, stream.events
                assert stream.error["code"] == "upstream_http_error" and "502" in stream.error["message"]
                assert "<html" not in stream.error["message"]  # the page is not passed on
                question, answer = await messages(client, cid)
                assert (question["content"], answer["status"]) == ("hi", "failed")
                assert (await client.get("/healthz")).status_code == 200
    finally:
        gateway.shutdown()
        gateway.server_close()
