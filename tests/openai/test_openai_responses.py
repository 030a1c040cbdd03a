"""The Responses API with the official ``openai`` package: create, stream, retrieve, chains by
``previous_response_id`` (one upstream request each, context kept in Coze), branches, function tools,
input items, delete, store=false, errors. Background, resume and cancel: test_openai_responses_background.py.
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest
from openai_helpers import Server, make_key_on

pytestmark = pytest.mark.live

CONVERSATION = "X-Botport-Conversation-Id"


def test_create_then_retrieve(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    response = client.responses.create(model="demo", input="What is Coze?", metadata={"ticket": "42"})
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == "demo"
    assert "**Turn 1.**" in response.output_text
    assert [item.type for item in response.output] == ["reasoning", "message"]
    reasoning = response.output[0]
    assert reasoning.type == "reasoning" and reasoning.content and reasoning.content[0].text
    assert response.usage is not None and response.usage.total_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.metadata == {"ticket": "42"}
    assert len(recorder.chats()) == 1

    again = client.responses.retrieve(response.id)
    assert again.model_dump() == response.model_dump()
    assert len(recorder.chats()) == 1  # reading it asks nothing upstream


def test_three_responses_chained_keep_context_with_one_upstream_request_each(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    first = client.responses.create(model="demo", input="Remember the word banana.")
    second = client.responses.create(model="demo", input="What is botport?", previous_response_id=first.id)
    third = client.responses.create(model="demo", input="Which word?", previous_response_id=second.id)
    assert "**Turn 3.**" in third.output_text
    assert "Before that you asked: *What is botport?*" in third.output_text
    assert third.previous_response_id == second.id
    chats = recorder.chats()
    assert len(chats) == 3  # one upstream request per response
    assert [len(c.body["additional_messages"]) for c in chats] == [1, 1, 1]  # nothing replayed
    assert "conversation_id" not in chats[0].params
    assert chats[1].params["conversation_id"] == chats[2].params["conversation_id"]
    # The chain is one botport conversation, readable with the same key.
    with fast_server.api() as api:
        conversations = api.get("/api/conversations").json()["items"]
    assert len(conversations) == 1


def test_a_response_from_an_older_one_branches_with_the_kept_history(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    first = client.responses.create(model="demo", input="First question")
    client.responses.create(model="demo", input="Second question", previous_response_id=first.id)
    branch = client.responses.create(model="demo", input="Another second", previous_response_id=first.id)
    assert "**Turn 2.**" in branch.output_text  # the first exchange is its context...
    assert "Before that you asked: *First question*" in branch.output_text
    assert "Second question" not in branch.output_text  # ...and not the other branch
    chats = recorder.chats()
    assert len(chats) == 3
    seeded = chats[2]
    assert "conversation_id" not in seeded.params  # a new Coze conversation...
    sent = [(m["role"], m["content"]) for m in seeded.body["additional_messages"]]
    assert sent[0] == ("user", "First question")  # ...seeded once with the kept history
    assert sent[1][0] == "assistant" and sent[-1] == ("user", "Another second") and len(sent) == 3
    # Continuing the branch goes on in the branch's Coze conversation, with one message.
    follow = client.responses.create(model="demo", input="And then?", previous_response_id=branch.id)
    assert "**Turn 3.**" in follow.output_text
    assert len(recorder.chats()[3].body["additional_messages"]) == 1


def test_stream_events_are_typed_and_numbered(fast_server: Server) -> None:
    client = fast_server.client()
    with client.responses.stream(model="demo", input="Stream this") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert "response.reasoning_text.delta" in kinds and "response.output_text.delta" in kinds
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == 2
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == final.output_text
    assert final.usage is not None and final.usage.output_tokens > 0
    stored = client.responses.retrieve(final.id)
    assert stored.output_text == final.output_text
    assert [item.id for item in stored.output] == [item.id for item in final.output]


async def test_async_stream_with_create(fast_server: Server) -> None:
    texts, last = [], None
    async with fast_server.async_client() as client:
        stream = await client.responses.create(model="demo", input="Async please", stream=True)
        async for event in stream:
            if event.type == "response.output_text.delta":
                texts.append(event.delta)
            last = event
    assert last is not None and last.type == "response.completed"
    assert "".join(texts) == last.response.output_text


def test_function_tool_round_trip_by_previous_response_id(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    tools: Any = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    first = client.responses.create(model="weather", input="What is the weather in Paris?", tools=tools)
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert first.status == "completed" and first.tools and first.tools[0].type == "function"
    output: Any = [{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny, 21 °C"}]
    second = client.responses.create(model="weather", input=output, previous_response_id=first.id)
    assert second.output_text == "The weather in **Paris**: sunny, 21 °C"
    submitted = [c for c in recorder.calls if c.path == "/v3/chat/submit_tool_outputs"]
    assert [c.body["tool_outputs"] for c in submitted] == [
        [{"tool_call_id": calls[0].call_id, "output": "sunny, 21 °C"}]
    ]
    assert len(recorder.chats()) == 1  # the outputs went to the paused chat
    # The same outputs again: that chat no longer waits.
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="weather", input=output, previous_response_id=first.id)
    assert caught.value.code == "no_paused_chat"


def test_function_tool_round_trip_with_the_whole_input(fast_server: Server) -> None:
    """Clients that keep the history themselves send it all, the call and its output included."""
    client = fast_server.client()
    question = {"role": "user", "content": "What is the weather in Rome?"}
    first = client.responses.create(model="weather", input=[question])  # type: ignore[list-item]
    call = next(item for item in first.output if item.type == "function_call")
    items: Any = [
        question,
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "rain"},
    ]
    with client.responses.stream(model="weather", input=items) as stream:
        final = stream.get_final_response()
    assert final.output_text == "The weather in **Rome**: rain"
    listed = client.responses.input_items.list(final.id, order="asc")
    assert [item.type for item in listed.data] == ["message", "function_call", "function_call_output"]


def test_stream_of_a_tool_call(fast_server: Server) -> None:
    client = fast_server.client()
    with client.responses.stream(model="weather", input="Weather in Oslo?") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    call = next(item for item in final.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"city": "Oslo"}


def test_history_in_input_is_matched_like_chat_completions(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    first = client.responses.create(model="demo", input="Hello")
    items: Any = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": [{"type": "output_text", "text": first.output_text}]},
        {"role": "user", "content": [{"type": "input_text", "text": "Next"}]},
    ]
    second = client.responses.with_raw_response.create(model="demo", input=items)
    first_conversation = client.responses.with_raw_response.retrieve(first.id)
    assert "**Turn 2.**" in second.parse().output_text
    chats = recorder.chats()
    assert len(chats[1].body["additional_messages"]) == 1  # the stored conversation continued
    assert second.headers[CONVERSATION]
    listed = client.responses.input_items.list(second.parse().id)  # newest first, as OpenAI lists them
    assert [item.role for item in listed.data if item.type == "message"] == [
        "user",
        "assistant",
        "user",
        "developer",
    ]
    assert first_conversation.http_response.status_code == 200


def test_input_items_page(fast_server: Server) -> None:
    client = fast_server.client()
    items: Any = [{"role": "user", "content": f"q{i}"} for i in range(5)]
    items[1]["role"] = items[3]["role"] = "assistant"
    response = client.responses.create(model="demo", input=items)
    page = client.responses.input_items.list(response.id, limit=2, order="asc")
    assert [item.content[0].text for item in page.data] == ["q0", "q1"]  # type: ignore[union-attr]
    assert page.has_more
    everything = list(client.responses.input_items.list(response.id, limit=2, order="asc"))
    assert [item.content[0].text for item in everything] == [f"q{i}" for i in range(5)]  # type: ignore[union-attr]


def test_delete_forgets_the_response(fast_server: Server) -> None:
    client = fast_server.client()
    response = client.responses.create(model="demo", input="Forget me")
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="demo", input="again", previous_response_id=response.id)
    assert caught.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)


def test_store_false_keeps_nothing(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    raw = client.responses.with_raw_response.create(model="demo", input="A stored one")
    kept, kept_conversation = raw.parse(), raw.headers[CONVERSATION]
    response = client.responses.create(model="demo", input="Not stored", store=False)
    assert response.store is False and "**Turn 1.**" in response.output_text
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    # Its conversation is gone here, and Coze is told to delete its copy (both just after the answer).
    listed: list[Any] = []
    deleted: list[str] = []
    with fast_server.api() as api:
        for _ in range(100):
            listed = api.get("/api/conversations").json()["items"]
            deleted = [c.path for c in recorder.calls if c.method == "DELETE"]
            if len(listed) == 1 and deleted:
                break
            time.sleep(0.05)
    assert [c["id"] for c in listed] == [kept_conversation]
    assert len(deleted) == 1 and deleted[0].startswith("/v1/conversations/")
    # A store=false response may continue from a stored one: its context is seeded, nothing added to it.
    follow = client.responses.create(model="demo", input="Next", previous_response_id=kept.id, store=False)
    assert "Before that you asked: *A stored one*" in follow.output_text
    again = client.responses.retrieve(kept.id)
    assert again.id == kept.id


def test_other_keys_see_nothing(fast_server: Server) -> None:
    response = fast_server.client().responses.create(model="demo", input="Mine")
    other = openai.OpenAI(base_url=f"{fast_server.url}/v1", api_key=make_key_on(fast_server), max_retries=0)
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.create(model="demo", input="x", previous_response_id=response.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.cancel(response.id)


def test_failing_bot(fast_server: Server) -> None:
    client = fast_server.client()
    with pytest.raises(openai.APIStatusError) as caught:
        client.responses.create(model="failing", input="hi")
    assert caught.value.status_code == 502
    assert caught.value.response.headers["x-should-retry"] == "false"
    with client.responses.stream(model="failing", input="hi") as stream:
        events = list(stream)
    last = events[-1]
    assert last.type == "response.failed"
    assert last.response.status == "failed" and last.response.error is not None
    assert last.response.error.message
    assert client.responses.retrieve(last.response.id).status == "failed"


def test_bad_requests_are_clear_400s(fast_server: Server) -> None:
    client = fast_server.client()
    image: Any = [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x/y.png"}]}]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"input": image}, "unsupported_file_url"),  # http: Coze could not fetch it; botport does not
        ({"input": "x", "background": True, "store": False}, "invalid_request"),
        ({"input": [{"type": "item_reference", "id": "x"}]}, "unsupported_input"),
        ({"input": [{"role": "assistant", "content": "only me"}]}, "invalid_input"),
        ({"input": "   "}, "empty_message"),
        ({"input": "x", "conversation": "conv_1"}, "unsupported_parameter"),
    ]
    for extra, code in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model="demo", **extra)
        assert caught.value.code == code, (extra, caught.value)
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="nope", input="x")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="demo", input="x", previous_response_id="resp_nothing")
    first = client.responses.create(model="demo", input="hi")
    with pytest.raises(openai.BadRequestError) as mismatch:
        client.responses.create(model="weather", input="x", previous_response_id=first.id)
    assert mismatch.value.code == "model_mismatch"


def test_idempotency_key_gives_the_same_response(fast_server: Server) -> None:
    client, recorder = fast_server.client(), fast_server.recorder
    assert recorder is not None
    headers = {"Idempotency-Key": "responses-idem-1"}
    first = client.responses.create(model="demo", input="once", extra_headers=headers)
    again = client.responses.create(model="demo", input="once", extra_headers=headers)
    assert again.id == first.id and again.output_text == first.output_text
    assert len(recorder.chats()) == 1
