"""POST /api/tool/ask: one synchronous call, the whole answer, context by conversation_id, clear errors."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from tool_helpers import BASE, ToolGateway, bearer, new_key, token_settings, tool_gateway

from botport.emulator.scripts import DEMO_FOLLOW_UPS
from botport.settings import Settings


async def _messages(gw: ToolGateway, conversation_id: str, key: str | None = None) -> list[dict[str, object]]:
    response = await gw.client.get(
        f"/api/conversations/{conversation_id}/messages", headers=bearer(key or gw.key)
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error


async def test_the_answer_comes_whole_in_one_call_and_is_not_a_follow_up(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path)) as gw:
        response = await gw.ask(question="What is botport?")
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"answer", "conversation_id", "follow_ups"}
        assert body["answer"].startswith("**Turn 1.** You said:")
        assert "> What is botport?" in body["answer"]
        assert body["follow_ups"] == list(DEMO_FOLLOW_UPS)
        assert body["answer"] not in DEMO_FOLLOW_UPS

        # A botport conversation owned by the key, with the turn stored.
        user, answer = await _messages(gw, body["conversation_id"])
        assert (user["role"], user["content"]) == ("user", "What is botport?")
        assert (answer["status"], answer["content"]) == ("completed", body["answer"])


async def test_context_carries_across_calls_with_the_conversation_id(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path)) as gw:
        first = (await gw.ask(question="my name is Ada")).json()
        second = await gw.ask(question="what is my name?", conversation_id=first["conversation_id"])
        assert second.status_code == 200, second.text
        body = second.json()
        assert body["conversation_id"] == first["conversation_id"]
        assert body["answer"].startswith("**Turn 2.**")
        assert "Before that you asked: *my name is Ada*" in body["answer"]
        # Without it, a new conversation: the bot starts afresh.
        fresh = (await gw.ask(question="what is my name?", conversation_id="")).json()
        assert fresh["conversation_id"] != first["conversation_id"]
        assert fresh["answer"].startswith("**Turn 1.**")


async def test_a_bot_can_be_chosen_for_a_new_conversation(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path)) as gw:
        failing = await gw.ask(question="hi", bot="failing")
        assert failing.status_code == 502
        cid = failing.json()["error"]["conversation_id"]
        conversation = await gw.client.get(f"/api/conversations/{cid}", headers=bearer(gw.key))
        assert conversation.json()["bot"] == "failing"

        error = _error(await gw.ask(question="hi", bot="nope"), 404, "unknown_bot")
        assert "demo" in str(error["message"])  # says which bots there are
        error = _error(await gw.ask(question="hi", conversation_id=cid, bot="demo"), 409, "bot_mismatch")
        assert "failing" in str(error["message"])


async def test_unknown_and_foreign_conversations_are_404(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path)) as gw:
        _error(await gw.ask(question="hi", conversation_id="does-not-exist"), 404, "conversation_not_found")

        mine = (await gw.ask(question="a secret")).json()["conversation_id"]
        other_key = await new_key(gw.app.state.services.settings.resolved_database_url, "someone else")
        response = await gw.ask(other_key, question="what was the secret?", conversation_id=mine)
        _error(response, 404, "conversation_not_found")

        # A browser's conversation (cookie identity) is not the key's either.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(gw.app), base_url=BASE) as browser:
            created = await browser.post("/api/conversations", json={})
            browsers = created.json()["id"]
        _error(await gw.ask(question="hi", conversation_id=browsers), 404, "conversation_not_found")
        assert len(await _messages(gw, mine)) == 2  # nothing was added by the refused calls


async def test_a_missing_or_bad_key_is_401(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path)) as gw:
        response = await gw.client.post("/api/tool/ask", json={"question": "hi"})
        error = _error(response, 401, "missing_api_key")
        assert "Bearer" in str(error["message"])
        response = await gw.client.post(
            "/api/tool/ask", json={"question": "hi"}, headers=bearer("bp_not-a-real-key")
        )
        _error(response, 401, "invalid_api_key")
        response = await gw.client.post(
            "/api/tool/ask", json={"question": "hi"}, headers={"Authorization": gw.key}
        )
        _error(response, 401, "invalid_api_key")


async def test_an_empty_question_is_422_and_stores_nothing(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path)) as gw:
        for body in ({"question": ""}, {"question": "  \n "}, {}, {"question": 42}):
            error = _error(
                await gw.client.post("/api/tool/ask", json=body, headers=bearer(gw.key)),
                422,
                "invalid_request",
            )
            assert "question" in str(error["message"])
        listed = await gw.client.get("/api/conversations", headers=bearer(gw.key))
        assert listed.json()["items"] == []


async def test_a_too_long_question_is_413_and_leaves_no_empty_conversation(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path, max_message_chars=50)) as gw:
        _error(await gw.ask(question="x" * 51), 413, "message_too_long")
        listed = await gw.client.get("/api/conversations", headers=bearer(gw.key))
        assert listed.json()["items"] == []


async def test_a_failing_bot_is_502_with_the_logid_and_the_partial_answer_kept(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path)) as gw:
        response = await gw.ask(question="hi", bot="failing")
        error = _error(response, 502, "chat_failed")
        # Coze's reason ends with its own period: one full stop, not "..".
        assert error["message"] == (
            "The bot could not answer: Failing demo: the model service is unavailable (scripted failure). "
            "Tell the user, and try again later."
        )
        assert error["logid"]
        _, answer = await _messages(gw, str(error["conversation_id"]))
        assert answer["status"] == "failed"
        assert answer["content"]  # the partial answer stays stored
        assert answer["error"]["logid"] == error["logid"]  # type: ignore[index]
        assert "pat_" not in response.text


async def test_a_bot_that_needs_a_client_tool_is_a_clear_502(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path)) as gw:
        error = _error(
            await gw.ask(question="weather in Paris?", bot="weather"), 502, "tool_call_unsupported"
        )
        assert "get_weather" in str(error["message"])


async def test_the_deadline_gives_a_quick_504_and_keeps_the_partial_answer(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path, tool_timeout=1.5)) as gw:
        started = time.monotonic()
        # "/slow" streams a word every 0.3 s: ~15 s for the whole answer.
        response = await gw.ask(question="/slow tell me everything", bot="slow")
        assert time.monotonic() - started < 10
        error = _error(response, 504, "tool_timeout")
        assert "1.5 seconds" in str(error["message"])
        cid = str(error["conversation_id"])
        _, answer = await _messages(gw, cid)
        assert answer["status"] == "interrupted"
        # "/slow" reasons first (word by word), so what arrived by the deadline is kept as reasoning.
        assert str(answer["reasoning"]).startswith("The user sent")
        assert answer["error"]["code"] == "tool_timeout"  # type: ignore[index]

        # The conversation is not stuck: the next question is answered, with the context.
        again = await gw.ask(question="quick one", conversation_id=cid)
        assert again.status_code == 200, again.text
        assert "Before that you asked" in again.json()["answer"]


async def test_the_deadline_in_demo_mode(tmp_path: Path) -> None:
    """The built-in emulator's slow bot waits a second before its first word."""
    async with tool_gateway(Settings(data_dir=tmp_path, tool_timeout=0.3), demo=True) as gw:
        started = time.monotonic()
        response = await gw.ask(question="hello", bot="slow")
        assert time.monotonic() - started < 10
        _error(response, 504, "tool_timeout")


async def test_a_second_question_while_one_is_answered_is_409(tmp_path: Path) -> None:
    async with tool_gateway(token_settings(tmp_path, tool_timeout=2)) as gw:
        created = await gw.client.post("/api/conversations", json={"bot": "slow"}, headers=bearer(gw.key))
        cid = created.json()["id"]
        first = asyncio.create_task(gw.ask(question="/slow take your time", conversation_id=cid))
        for _ in range(100):  # until the first turn has started
            if gw.app.state.services.chat.is_running(cid):
                break
            await asyncio.sleep(0.02)
        _error(await gw.ask(question="hurry", conversation_id=cid), 409, "turn_in_progress")
        _error(await first, 504, "tool_timeout")
