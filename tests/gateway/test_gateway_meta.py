"""Config, bots, health, and the Coze token never leaving the server."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from gateway_helpers import TOKEN, Gateway, emulator, gateway, recording, token_settings

from botport import __version__
from botport.emulator.faults import Faults
from botport.settings import Settings


async def test_config_bots_and_health_in_demo_mode(tmp_path: Path) -> None:
    async with gateway(Settings(data_dir=tmp_path)) as gw:
        config = (await gw.client.get("/api/config")).json()
        assert config["demo_mode"] is True
        assert config["version"] == __version__
        assert config["limits"]["max_message_chars"] == 8000
        slugs = [b["slug"] for b in config["bots"]]
        assert slugs[:4] == ["demo", "weather", "slow", "failing"]
        assert all(set(b) == {"slug", "name", "description", "greeting"} for b in config["bots"])

        bots = (await gw.client.get("/api/bots")).json()
        assert bots == config["bots"]
        health = await gw.client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"


async def test_config_with_a_token_is_not_demo_mode(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        config = (await gw.client.get("/api/config")).json()
        assert config["demo_mode"] is False
        assert [b["slug"] for b in config["bots"]] == ["demo", "weather", "slow", "failing"]
        assert "bot_id" not in str(config)  # clients pick bots by slug, never by Coze id


def _assert_no_token(response: httpx.Response) -> None:
    assert TOKEN not in response.text
    for name, value in response.headers.items():
        assert TOKEN not in value, name


async def _exercise(gw: Gateway) -> list[httpx.Response]:
    responses = [
        await gw.client.get("/api/config"),
        await gw.client.get("/api/bots"),
        await gw.client.get("/healthz"),
        await gw.client.get("/openapi.json"),
    ]
    for bot in ("demo", "failing", "weather"):
        created = await gw.client.post("/api/conversations", json={"bot": bot})
        responses.append(created)
        cid = created.json()["id"]
        for stream in (True, False):
            responses.append(
                await gw.client.post(
                    f"/api/conversations/{cid}/messages", json={"content": f"hi {stream}", "stream": stream}
                )
            )
        responses.append(await gw.client.get(f"/api/conversations/{cid}/messages"))
    responses.append(await gw.client.post("/chat", json={"additional_messages": [{"content": "hey"}]}))
    return responses


async def test_token_never_in_responses_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        responses = await _exercise(gw)
    assert any(r.path == "/v3/chat" for r in transport.requests)  # turns did reach upstream
    # The token did go upstream, only there.
    assert transport.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    for response in responses:
        assert response.status_code < 500 or response.json()  # failures are JSON too
        _assert_no_token(response)
    assert caplog.records, "expected some log lines (e.g. the failing bot)"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    assert TOKEN not in caplog.text


@pytest.mark.parametrize("code", [4100, 4015])
async def test_token_not_leaked_when_coze_rejects(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, code: int
) -> None:
    caplog.set_level(logging.DEBUG)
    transport = recording(emulator({"demo": Faults(envelope_error=code)}))
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        for stream in (True, False):
            response = await gw.client.post(
                f"/api/conversations/{cid}/messages", json={"content": "hi", "stream": stream}
            )
            _assert_no_token(response)
    assert TOKEN not in caplog.text


async def test_token_not_leaked_when_upstream_echoes_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A proxy that reflects the request (headers included) into an error page must not leak it."""
    caplog.set_level(logging.DEBUG)

    def reflect(request: httpx.Request) -> httpx.Response:
        echoed = "\n".join(f"{k}: {v}" for k, v in request.headers.items())
        return httpx.Response(500, text=f"<html>bad gateway\n{echoed}</html>", headers={"x-tt-logid": "L1"})

    async with gateway(token_settings(tmp_path), httpx.MockTransport(reflect)) as gw:
        cid = await gw.conversation()
        for stream in (True, False):
            response = await gw.client.post(
                f"/api/conversations/{cid}/messages", json={"content": "hi", "stream": stream}
            )
            _assert_no_token(response)
        _assert_no_token(await gw.client.get(f"/api/conversations/{cid}/messages"))
    assert TOKEN not in caplog.text
