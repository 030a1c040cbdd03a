"""Edit a question, regenerate an answer, switch between the versions: the stored tree, what Coze is
sent (a new branch starts a Coze conversation seeded with the branch's history; coming back to a
branch continues its own), idempotency, and every refusal. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from gateway_helpers import (
    Gateway,
    emulator,
    events_of,
    eventually,
    gateway,
    only,
    parse_frames,
    recording,
    send_stream,
    token_settings,
)
from starlette.applications import Starlette

from botport.chat.coze_sync import CozeSync


def _coze_conversations(coze: Starlette) -> dict[str, Any]:
    conversations: dict[str, Any] = coze.state.emulator.store.conversations
    return conversations


async def _post_turn(gw: Gateway, path: str, body: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
    response = await gw.client.post(path, json=body or {}, **kwargs)
    assert response.status_code == 200, response.text
    return parse_frames(response.content)


async def _edit(gw: Gateway, cid: str, message_id: str, content: str) -> list[Any]:
    return await _post_turn(gw, f"/api/conversations/{cid}/messages/{message_id}/edit", {"content": content})


async def _regenerate(gw: Gateway, cid: str, message_id: str) -> list[Any]:
    return await _post_turn(gw, f"/api/conversations/{cid}/messages/{message_id}/regenerate")


async def _switch(gw: Gateway, cid: str, message_id: str) -> list[dict[str, Any]]:
    response = await gw.client.put(f"/api/conversations/{cid}/branch", json={"message_id": message_id})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _said(frames: list[Any]) -> str:
    return str(only(frames, "message.completed").data["content"])


def _contents(items: list[dict[str, Any]]) -> list[str]:
    return [m["content"] if m["role"] == "user" else m["role"] for m in items]


async def test_edit_makes_a_branch_and_each_branch_keeps_its_coze_conversation(
    tmp_path: Path, database_url: str
) -> None:
    coze = emulator()
    transport = recording(coze)
    async with gateway(token_settings(tmp_path, database_url=database_url), transport) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "otters")
        await gw.send(cid, "badgers")
        q1, a1, q2, a2 = await gw.messages(cid)
        (first_coze,) = _coze_conversations(coze)

        frames = await _edit(gw, cid, q2["id"], "ferrets")
        assert events_of(frames)[0] == "turn.started" and events_of(frames)[-1] == "turn.completed"
        assert "Before that you asked: *otters*" in _said(frames)  # the branch's history, not "badgers"
        edit_call = transport.paths("/v3/chat")[-1]
        assert "conversation_id" not in edit_call.params  # a new Coze conversation...
        seeded = [(m["role"], m["content"]) for m in edit_call.body["additional_messages"]]
        assert seeded == [("user", "otters"), ("assistant", a1["content"]), ("user", "ferrets")]  # ...seeded

        items = await gw.messages(cid)
        assert _contents(items) == ["otters", "assistant", "ferrets", "assistant"]
        assert items[:2] == [q1, a1]  # the shared start is untouched
        edited, answer = items[2], items[3]
        assert edited["versions"] == [q2["id"], edited["id"]] and edited["parent_id"] == a1["id"]
        assert answer["versions"] == [answer["id"]] and answer["parent_id"] == edited["id"]
        assert only(frames, "turn.started").data["user_message_id"] == edited["id"]

        # The next question continues the new branch in its own Coze conversation.
        third = await gw.send(cid, "and then?")
        assert "Before that you asked: *ferrets*" in _said(third)
        second_coze = transport.paths("/v3/chat")[-1].params["conversation_id"]
        assert second_coze != first_coze and set(_coze_conversations(coze)) == {first_coze, second_coze}

        # Back to the first version: the old answers, and the old Coze conversation goes on.
        back = await _switch(gw, cid, q2["id"])
        assert [m["id"] for m in back] == [q1["id"], a1["id"], q2["id"], a2["id"]]
        assert back[2]["versions"] == [q2["id"], edited["id"]]
        assert await gw.messages(cid) == back
        again = await gw.send(cid, "what was it?")
        assert "Before that you asked: *badgers*" in _said(again)
        assert transport.paths("/v3/chat")[-1].params["conversation_id"] == first_coze
        assert [m["content"] for m in transport.paths("/v3/chat")[-1].body["additional_messages"]] == [
            "what was it?"
        ]

        # And forth: the newest branch through the edited question, with its later turns.
        forth = await _switch(gw, cid, edited["id"])
        assert _contents(forth) == ["otters", "assistant", "ferrets", "assistant", "and then?", "assistant"]
        after = await gw.send(cid, "last one")
        assert "Before that you asked: *and then?*" in _said(after)
        assert transport.paths("/v3/chat")[-1].params["conversation_id"] == second_coze

        # Rating an answer reaches the Coze conversation holding it: a1 lives in the first branch's.
        sync: CozeSync = gw.app.state.services.coze_sync
        rated = await gw.client.put(
            f"/api/conversations/{cid}/messages/{a1['id']}/feedback", json={"rating": "like"}
        )
        assert rated.status_code == 200, rated.text
        await sync.settled()
        (feedback,) = [r.path for r in transport.requests if r.path.endswith("/feedback")]
        assert feedback.startswith(f"/v1/conversations/{first_coze}/messages/")

        # Deleting the conversation deletes every branch's Coze conversation.
        assert (await gw.client.delete(f"/api/conversations/{cid}")).status_code == 204
        await sync.settled()
        assert _coze_conversations(coze) == {}


async def test_regenerate_answers_again_without_repeating_the_question(
    tmp_path: Path, database_url: str
) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path, database_url=database_url), transport) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "otters")
        await gw.send(cid, "badgers")
        q1, a1, q2, a2 = await gw.messages(cid)

        frames = await _regenerate(gw, cid, a2["id"])
        started = only(frames, "turn.started").data
        assert not started["user_message_id"]  # no new question
        assert "Before that you asked: *otters*" in _said(frames)
        call = transport.paths("/v3/chat")[-1]
        assert "conversation_id" not in call.params
        assert [m["content"] for m in call.body["additional_messages"]] == [
            "otters",
            a1["content"],
            "badgers",
        ]

        items = await gw.messages(cid)
        assert [m["id"] for m in items[:3]] == [q1["id"], a1["id"], q2["id"]]  # the question is not repeated
        regenerated = items[3]
        assert regenerated["id"] == started["message_id"] and regenerated["parent_id"] == q2["id"]
        assert regenerated["versions"] == [a2["id"], regenerated["id"]]

        # An answer in the middle: a third branch, from the first question; stream false works too.
        response = await gw.client.post(
            f"/api/conversations/{cid}/messages/{a1['id']}/regenerate", json={"stream": False}
        )
        assert response.status_code == 200, response.text
        message = response.json()
        assert message["status"] == "completed" and message["versions"] == [a1["id"], message["id"]]
        assert "This is the first question" in message["content"]
        items = await gw.messages(cid)
        assert [m["id"] for m in items] == [q1["id"], message["id"]]
        assert items[1] == message


async def test_a_failed_answer_is_regenerated_in_place(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation("failing")
        await gw.send(cid, "please fail")
        question, failed = await gw.messages(cid)
        assert failed["status"] == "failed"
        frames = await _regenerate(gw, cid, failed["id"])
        assert events_of(frames)[-1] == "error"  # this bot always fails; the point is where it goes
        items = await gw.messages(cid)
        assert [m["id"] for m in items][:1] == [question["id"]] and len(items) == 2
        assert items[1]["versions"] == [failed["id"], items[1]["id"]]


async def test_a_repeated_edit_with_the_same_key_is_one_turn(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "otters")
        q1, _ = await gw.messages(cid)
        headers = {"Idempotency-Key": "edit-1"}
        path = f"/api/conversations/{cid}/messages/{q1['id']}/edit"
        first = await _post_turn(gw, path, {"content": "ferrets"}, headers=headers)
        second = await _post_turn(gw, path, {"content": "ferrets"}, headers=headers)
        assert (
            only(first, "turn.started").data["message_id"] == only(second, "turn.started").data["message_id"]
        )
        assert len(transport.paths("/v3/chat")) == 2
        reused = await gw.client.post(path, json={"content": "weasels"}, headers=headers)
        assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"
        assert _contents(await gw.messages(cid)) == ["ferrets", "assistant"]


async def test_an_edited_first_question_starts_from_nothing(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "otters")
        q1, a1 = await gw.messages(cid)
        frames = await _edit(gw, cid, q1["id"], "ferrets")
        assert "This is the first question" in _said(frames)
        assert [m["content"] for m in transport.paths("/v3/chat")[-1].body["additional_messages"]] == [
            "ferrets"
        ]
        items = await gw.messages(cid)
        assert items[0]["versions"] == [q1["id"], items[0]["id"]] and items[0]["parent_id"] is None
        assert [m["id"] for m in await _switch(gw, cid, a1["id"])] == [q1["id"], a1["id"]]


async def test_refusals(tmp_path: Path, database_url: str) -> None:
    async with gateway(token_settings(tmp_path, database_url=database_url), recording()) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "otters")
        q1, a1 = await gw.messages(cid)
        base = f"/api/conversations/{cid}/messages"

        async def error(response: httpx.Response, status: int) -> str:
            assert response.status_code == status, response.text
            return str(response.json()["error"]["code"])

        assert await error(await gw.client.post(f"{base}/{a1['id']}/edit", json={"content": "x"}), 409) == (
            "not_a_question"
        )
        assert await error(await gw.client.post(f"{base}/{q1['id']}/regenerate"), 409) == "not_an_answer"
        assert await error(await gw.client.post(f"{base}/nope/edit", json={"content": "x"}), 404) == (
            "message_not_found"
        )
        assert await error(await gw.client.post(f"{base}/nope/regenerate"), 404) == "message_not_found"
        assert await error(await gw.client.post(f"{base}/{q1['id']}/edit", json={"content": "  "}), 400) == (
            "empty_message"  # as when sending
        )
        assert await error(await gw.client.post(f"{base}/{q1['id']}/edit", json={}), 422)
        branch = f"/api/conversations/{cid}/branch"
        assert (
            await error(await gw.client.put(branch, json={"message_id": "nope"}), 409) == "message_not_found"
        )
        assert await error(await gw.client.put(branch, json={}), 422)
        # A message of another conversation is no version of this one's.
        other = await gw.conversation()
        await gw.send(other, "elsewhere")
        q_other, _ = await gw.messages(other)
        assert await error(await gw.client.put(branch, json={"message_id": q_other["id"]}), 409)
        assert await error(await gw.client.post(f"{base}/{q_other['id']}/edit", json={"content": "x"}), 404)
        # Someone else's conversation does not exist for them.
        async with gw.other_client() as stranger:
            assert await error(await stranger.post(f"{base}/{q1['id']}/edit", json={"content": "x"}), 404)
            assert await error(await stranger.post(f"{base}/{a1['id']}/regenerate"), 404)
            assert await error(await stranger.put(branch, json={"message_id": q1["id"]}), 404)
        assert _contents(await gw.messages(cid)) == ["otters", "assistant"]  # nothing was stored


async def test_no_switch_or_version_while_an_answer_is_written(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation("slow")
        await gw.send(cid, "quick one")
        q1, a1 = await gw.messages(cid)
        sending = asyncio.create_task(
            gw.client.post(f"/api/conversations/{cid}/messages", json={"content": "/slow take your time"})
        )

        async def running() -> bool:
            return (await gw.client.get(f"/api/conversations/{cid}")).json()["running_turn"] is not None

        assert await eventually(running)
        base = f"/api/conversations/{cid}"
        switched = await gw.client.put(f"{base}/branch", json={"message_id": q1["id"]})
        assert switched.status_code == 409 and switched.json()["error"]["code"] == "turn_in_progress"
        edited = await gw.client.post(f"{base}/messages/{q1['id']}/edit", json={"content": "x"})
        assert edited.status_code == 409
        regenerated = await gw.client.post(f"{base}/messages/{a1['id']}/regenerate")
        assert regenerated.status_code == 409
        assert (await gw.client.post(f"{base}/cancel")).json()["cancelled"]
        await asyncio.wait_for(sending, timeout=10)
        assert _contents(await gw.messages(cid)) == [
            "quick one",
            "assistant",
            "/slow take your time",
            "assistant",
        ]


async def test_back_to_an_edited_first_question_continues_its_context(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "otters")
        q1, _ = await gw.messages(cid)
        await _edit(gw, cid, q1["id"], "ferrets")
        await _switch(gw, cid, q1["id"])
        frames = await send_stream(gw.client, cid, "next")
        assert "Before that you asked: *otters*" in _said(frames)
