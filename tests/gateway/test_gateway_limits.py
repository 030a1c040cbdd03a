"""Bad input gets a clear 4xx JSON error and stores nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_helpers import Gateway, gateway, recording, token_settings


def _assert_error(response: httpx.Response, statuses: tuple[int, ...]) -> dict[str, Any]:
    assert response.status_code in statuses, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] and error["message"]
    return error


async def _nothing_stored(gw: Gateway, cid: str, transport_requests: int) -> None:
    assert await gw.messages(cid) == []
    assert transport_requests == 0
    assert (await gw.client.get(f"/api/conversations/{cid}")).json()["title"] == ""


@pytest.mark.parametrize("stream", [True, False])
async def test_message_over_the_char_limit(tmp_path: Path, stream: bool) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path, max_message_chars=50), transport) as gw:
        cid = await gw.conversation()
        url = f"/api/conversations/{cid}/messages"
        response = await gw.client.post(url, json={"content": "x" * 51, "stream": stream})
        error = _assert_error(response, (413, 422))
        assert "50" in error["message"]
        await _nothing_stored(gw, cid, len(transport.requests))
        ok = await gw.client.post(url, json={"content": "y" * 50, "stream": False})
        assert ok.status_code == 200


async def test_body_over_the_byte_limit(tmp_path: Path) -> None:
    transport = recording()
    settings = token_settings(tmp_path, max_body_bytes=2000, max_message_chars=100_000)
    async with gateway(settings, transport) as gw:
        cid = await gw.conversation()
        url = f"/api/conversations/{cid}/messages"
        response = await gw.client.post(url, json={"content": "z" * 5000, "stream": True})
        error = _assert_error(response, (413,))
        assert "2000" in error["message"]

        # Without a Content-Length (chunked upload), the limit holds while the body streams in.
        async def chunks() -> Any:
            yield b'{"content": "'
            for _ in range(10):
                yield b"z" * 500
            yield b'", "stream": true}'

        chunked = await gw.client.post(url, content=chunks(), headers={"content-type": "application/json"})
        _assert_error(chunked, (413,))
        await _nothing_stored(gw, cid, len(transport.requests))


@pytest.mark.parametrize(
    ("body", "statuses"),
    [
        ({"content": "", "stream": True}, (400, 422)),
        ({"content": "   \n\t ", "stream": True}, (400, 422)),
        ({"stream": True}, (422,)),
        ({"content": "hi", "stream": True, "model": "gpt-4"}, (422,)),
        ({"content": 42, "stream": True}, (422,)),
        ({"content": "hi", "stream": "yes please"}, (422,)),
        (["content", "hi"], (422,)),
    ],
)
async def test_bad_message_bodies(tmp_path: Path, body: Any, statuses: tuple[int, ...]) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        response = await gw.client.post(f"/api/conversations/{cid}/messages", json=body)
        _assert_error(response, statuses)
        await _nothing_stored(gw, cid, len(transport.requests))


async def test_malformed_json_and_unknown_fields(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        headers = {"content-type": "application/json"}
        url = f"/api/conversations/{cid}/messages"
        for raw in (b'{"content": "hi",', b"not json", b""):
            response = await gw.client.post(url, content=raw, headers=headers)
            _assert_error(response, (422,))
        unknown = await gw.client.post("/api/conversations", json={"bot": "demo", "colour": "red"})
        error = _assert_error(unknown, (422,))
        assert "colour" in error["message"]
        rename = await gw.client.patch(f"/api/conversations/{cid}", json={"title": "t", "owner": "me"})
        _assert_error(rename, (422,))
        await _nothing_stored(gw, cid, len(transport.requests))
        assert len((await gw.client.get("/api/conversations")).json()["items"]) == 1
