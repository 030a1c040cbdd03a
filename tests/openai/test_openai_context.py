"""Context without replay: the client resends the whole history; botport finds the conversation and
sends Coze only the new turn (checked on the recorded upstream requests and the stored messages)."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai_helpers import Server, make_key_on

pytestmark = pytest.mark.live

CONVERSATION = "X-Botport-Conversation-Id"


def _ask(client: openai.OpenAI, messages: list[dict[str, Any]], **kwargs: Any) -> tuple[str, str]:
    """The answer and the conversation id header."""
    raw = client.chat.completions.with_raw_response.create(model="demo", messages=messages, **kwargs)  # type: ignore[arg-type]
    content = raw.parse().choices[0].message.content or ""
    return content, raw.headers[CONVERSATION]


def _stored(server: Server, conversation_id: str) -> list[tuple[str, str]]:
    with server.api() as api:
        items = api.get(f"/api/conversations/{conversation_id}/messages").json()["items"]
    return [(m["role"], m["status"]) for m in items]


def _conversation_count(server: Server) -> int:
    with server.api() as api:
        return len(api.get("/api/conversations").json()["items"])


def test_history_resent_reuses_the_coze_conversation(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    history: list[dict[str, Any]] = [{"role": "system", "content": "You are terse."}]
    ids = []
    for turn, question in enumerate(["What is Coze?", "And botport?", "Thanks!"], start=1):
        history.append({"role": "user", "content": question})
        answer, conversation_id = _ask(client, history)
        assert f"**Turn {turn}.**" in answer
        history.append({"role": "assistant", "content": answer})
        ids.append(conversation_id)
    assert "Before that you asked: *And botport?*" in history[-1]["content"]
    assert len(set(ids)) == 1
    # Coze got one question per request; from the second on, in the Coze conversation of the first.
    chats = recorder.chats()
    assert [len(c.body["additional_messages"]) for c in chats] == [1, 1, 1]
    assert [c.body["additional_messages"][0]["content"] for c in chats] == [
        "What is Coze?",
        "And botport?",
        "Thanks!",
    ]
    assert "conversation_id" not in chats[0].params
    assert chats[1].params["conversation_id"] == chats[2].params["conversation_id"]
    assert _stored(fast_server, ids[0]) == [("user", "completed"), ("assistant", "completed")] * 3
    assert _conversation_count(fast_server) == 1


def test_stream_and_non_stream_share_the_conversation(fast_server: Server) -> None:
    client = fast_server.client()
    history: list[dict[str, Any]] = [{"role": "user", "content": "one"}]
    first, conversation_id = _ask(client, history)
    history += [{"role": "assistant", "content": first}, {"role": "user", "content": "two"}]
    with client.chat.completions.with_streaming_response.create(
        model="demo", messages=history, stream=True
    ) as raw:  # type: ignore[arg-type]
        assert raw.headers[CONVERSATION] == conversation_id
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert "**Turn 2.**" in text and "Before that you asked: *one*" in text


def test_unknown_history_is_sent_once_as_additional_messages(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    history: list[dict[str, Any]] = [
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "alpha"},
        {"role": "assistant", "content": "an answer from another app"},
        {"role": "user", "content": [{"type": "text", "text": "beta"}]},
        {"role": "assistant", "content": "another answer"},
        {"role": "user", "content": "gamma"},
    ]
    answer, conversation_id = _ask(client, history)
    # The bot saw the earlier turns: this is its third question, and it recalls the second.
    assert "**Turn 3.**" in answer and "Before that you asked: *beta*" in answer
    sent = recorder.chats()[0].body["additional_messages"]
    assert [(m["role"], m["type"], m["content"]) for m in sent] == [
        ("user", "question", "alpha"),
        ("assistant", "answer", "an answer from another app"),
        ("user", "question", "beta"),
        ("assistant", "answer", "another answer"),
        ("user", "question", "gamma"),
    ]
    # The next request (that history + the answer + a question) continues it with one new message.
    history += [{"role": "assistant", "content": answer}, {"role": "user", "content": "delta"}]
    answer, again = _ask(client, history)
    assert again == conversation_id
    assert "**Turn 4.**" in answer and "Before that you asked: *gamma*" in answer
    latest = recorder.chats()[-1]
    assert [m["content"] for m in latest.body["additional_messages"]] == ["delta"]
    assert latest.params["conversation_id"]
    assert len(_stored(fast_server, conversation_id)) == 8


def test_a_changed_history_starts_a_new_conversation(fast_server: Server) -> None:
    client = fast_server.client()
    first, conversation_id = _ask(client, [{"role": "user", "content": "one"}])
    edited = [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": first + " (edited by the user)"},
        {"role": "user", "content": "two"},
    ]
    answer, other = _ask(client, edited)
    assert other != conversation_id
    assert "**Turn 2.**" in answer  # the edited history went along as context
    assert _conversation_count(fast_server) == 2


def test_explicit_conversation_header(fast_server: Server) -> None:
    client = fast_server.client()
    _, conversation_id = _ask(client, [{"role": "user", "content": "remember me"}])
    # Only the new message, with the header: the conversation's context is kept in Coze.
    answer, same = _ask(
        client, [{"role": "user", "content": "who am I?"}], extra_headers={CONVERSATION: conversation_id}
    )
    assert same == conversation_id
    assert "**Turn 2.**" in answer and "Before that you asked: *remember me*" in answer
    with pytest.raises(openai.NotFoundError) as info:
        _ask(client, [{"role": "user", "content": "hi"}], extra_headers={CONVERSATION: "nope"})
    assert info.value.code == "conversation_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(
            model="weather",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={CONVERSATION: conversation_id},
        )
    assert bad.value.code == "model_mismatch"


def test_another_key_does_not_match_my_history(fast_server: Server) -> None:
    client = fast_server.client()
    first, mine = _ask(client, [{"role": "user", "content": "private"}])
    other = openai.OpenAI(base_url=f"{fast_server.url}/v1", api_key=make_key_on(fast_server), max_retries=0)
    history = [
        {"role": "user", "content": "private"},
        {"role": "assistant", "content": first},
        {"role": "user", "content": "next"},
    ]
    answer, theirs = _ask(other, history)
    assert theirs != mine
    with pytest.raises(openai.NotFoundError):
        _ask(other, [{"role": "user", "content": "x"}], extra_headers={CONVERSATION: mine})
    assert "**Turn 2.**" in answer  # replayed as context, in a conversation of their own


def _versions(server: Server, conversation_id: str) -> list[tuple[str, str, int]]:
    with server.api() as api:
        items = api.get(f"/api/conversations/{conversation_id}/messages").json()["items"]
    return [(m["role"], m["content"][:12], len(m["versions"])) for m in items]


def test_an_edited_earlier_question_branches_the_stored_conversation(fast_server: Server) -> None:
    """Open WebUI's edit: the history ends inside the stored conversation; the new question becomes a
    new version there (not a second conversation), its Coze conversation seeded with that history."""
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    history: list[dict[str, Any]] = []
    for question in ["First question", "Second question"]:
        history.append({"role": "user", "content": question})
        answer, conversation_id = _ask(client, history)
        history.append({"role": "assistant", "content": answer})
    edited = [*history[:2], {"role": "user", "content": "Second, edited"}]
    answer, same_id = _ask(client, edited)
    assert same_id == conversation_id and _conversation_count(fast_server) == 1
    assert "**Turn 2.**" in answer and "Before that you asked: *First question*" in answer
    seeded = recorder.chats()[-1]
    assert "conversation_id" not in seeded.params  # a new Coze conversation for the branch...
    sent = [m["content"] for m in seeded.body["additional_messages"]]
    assert sent[0] == "First question" and sent[-1] == "Second, edited" and len(sent) == 3  # ...seeded
    versions = _versions(fast_server, conversation_id)
    assert [(role, versions_) for role, _, versions_ in versions] == [
        ("user", 1),
        ("assistant", 1),
        ("user", 2),  # the edited question beside the first one
        ("assistant", 1),
    ]
    # The new branch goes on in its own Coze conversation: one message, nothing replayed.
    follow = [*edited, {"role": "assistant", "content": answer}, {"role": "user", "content": "Third"}]
    third, third_id = _ask(client, follow)
    assert third_id == conversation_id and "**Turn 3.**" in third
    assert recorder.chats()[-1].params["conversation_id"]
    assert len(recorder.chats()[-1].body["additional_messages"]) == 1


def test_asking_the_last_question_again_is_another_answer_to_it(fast_server: Server) -> None:
    """Open WebUI's regenerate: the same question after the same history is a new version of the answer;
    the question is not stored twice."""
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    history: list[dict[str, Any]] = [{"role": "user", "content": "Only question"}]
    first, conversation_id = _ask(client, history)
    history += [{"role": "assistant", "content": first}, {"role": "user", "content": "Next one"}]
    _ask(client, history)
    again, same_id = _ask(client, history)  # the same request: Next one, after the same history
    assert same_id == conversation_id and _conversation_count(fast_server) == 1
    assert "**Turn 2.**" in again
    versions = _versions(fast_server, conversation_id)
    assert [(role, versions_) for role, _, versions_ in versions] == [
        ("user", 1),
        ("assistant", 1),
        ("user", 1),
        ("assistant", 2),  # two answers to one question
    ]
    sent = [m["content"] for m in recorder.chats()[-1].body["additional_messages"]]
    assert sent == ["Only question", first, "Next one"]
