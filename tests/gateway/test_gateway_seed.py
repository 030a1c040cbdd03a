"""The tutorial's contract: ``POST /chat`` answers ``{"replies": [answer]}`` or ``{"error": "..."}``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from gateway_helpers import gateway, recording, token_settings

from botport.emulator.bots import DEMO_BOT_ID, FAILING_BOT_ID
from botport.emulator.scripts import DEMO_FOLLOW_UPS


def seed_body(message: str, *, bot_id: str = DEMO_BOT_ID, user_id: str = "123123123") -> dict[str, Any]:
    """Exactly what the tutorial's page posts."""
    return {
        "bot_id": bot_id,
        "user_id": user_id,
        "stream": False,
        "auto_save_history": True,
        "additional_messages": [{"role": "user", "content": message, "content_type": "text"}],
    }


def _error_text(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"]
    return str(body["error"])


async def test_seed_page_gets_the_answer(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        response = await gw.client.post("/chat", json=seed_body("hello from the tutorial"))
        assert response.status_code == 200
        replies = response.json()["replies"]
        assert len(replies) == 1
        assert "hello from the tutorial" in replies[0] and "Turn 1." in replies[0]
        assert replies[0] not in DEMO_FOLLOW_UPS
        # The client's user_id never goes upstream; one streamed request per call.
        (sent,) = transport.requests
        assert sent.path == "/v3/chat" and sent.body["user_id"] != "123123123"


async def test_context_is_kept_per_identity_not_per_user_id(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        await gw.client.post("/chat", json=seed_body("the secret word is heron", user_id="alice"))
        # Same cookie, another user_id: same context.
        second = await gw.client.post("/chat", json=seed_body("what was it?", user_id="bob"))
        reply = second.json()["replies"][0]
        assert "Turn 2." in reply and "the secret word is heron" in reply
        third = await gw.client.post("/chat", json=seed_body("and now?", user_id="carol"))
        assert "Turn 3." in third.json()["replies"][0]

        # Another cookie with the very same user_id: no shared context.
        async with gw.other_client() as other:
            theirs = await other.post("/chat", json=seed_body("who am I?", user_id="alice"))
            reply = theirs.json()["replies"][0]
            assert "Turn 1." in reply and "heron" not in reply


async def test_unconfigured_bot_id_gets_the_default_bot(tmp_path: Path) -> None:
    """The tutorial page hard-codes its author's bot_id: it must still work, and that id must never
    reach Coze (the token serves configured bots only)."""
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        response = await gw.client.post("/chat", json=seed_body("hi", bot_id="7999999999999999999"))
        assert response.status_code == 200
        assert "Turn 1." in response.json()["replies"][0]
    sent = [r.body["bot_id"] for r in transport.requests if r.path == "/v3/chat"]
    assert sent == [DEMO_BOT_ID]


async def test_bad_bodies(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        for body in (
            None,  # no body at all
            {},
            {"additional_messages": []},
            {"additional_messages": [{"role": "assistant", "content": "hi"}]},
            {"additional_messages": [{"role": "user", "content": "   "}]},
        ):
            if body is None:
                response = await gw.client.post("/chat")
            else:
                response = await gw.client.post("/chat", json=body)
            assert 400 <= response.status_code < 500, (body, response.text)
            _error_text(response)
        json_type = {"content-type": "application/json"}
        malformed = await gw.client.post("/chat", content=b"{oops", headers=json_type)
        assert malformed.status_code == 422
        _error_text(malformed)
    assert transport.requests == []


async def test_failing_bot_is_an_error_with_5xx(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        response = await gw.client.post("/chat", json=seed_body("hi", bot_id=FAILING_BOT_ID))
        assert 500 <= response.status_code < 600
        text = _error_text(response)
        assert "scripted failure" in text and "logid" in text
        # The default bot serves a body without bot_id.
        no_bot_id = {"additional_messages": [{"role": "user", "content": "x"}]}
        plain = await gw.client.post("/chat", json=no_bot_id)
        assert plain.status_code == 200 and plain.json()["replies"]
