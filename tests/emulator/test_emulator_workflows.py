"""Contract tests: Coze's official Python SDK (sync and async clients) against the emulator's workflows."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cozepy import (
    AsyncCoze,
    AsyncHTTPClient,
    AsyncTokenAuth,
    ChatEvent,
    ChatEventType,
    Coze,
    CozeAPIError,
    Message,
    MessageType,
    WorkflowEvent,
    WorkflowEventType,
    WorkflowExecuteStatus,
    WorkflowMode,
    WorkflowRunHistory,
    WorkflowRunMode,
)
from emulator_helpers import AUTH, TOKEN

from botport.emulator.workflows import (
    CHATFLOW_ID,
    FAILING_WORKFLOW_ID,
    GREETING_WORKFLOW_ID,
    QUESTION_WORKFLOW_ID,
)

pytestmark = pytest.mark.live

UNKNOWN_WORKFLOW_ID = "7199999999999999999"


@pytest.fixture
async def acoze(emulator_server) -> AsyncIterator[AsyncCoze]:  # type: ignore[no-untyped-def]
    http_client = AsyncHTTPClient(timeout=30)
    yield AsyncCoze(auth=AsyncTokenAuth(TOKEN), base_url=emulator_server.base_url, http_client=http_client)
    await http_client.aclose()


def _messages(events: list[WorkflowEvent], node_title: str) -> str:
    """The text one node streamed, joined from its Message events."""
    return "".join(
        e.message.content for e in events if e.message is not None and e.message.node_title == node_title
    )


def _end_output(events: list[WorkflowEvent]) -> dict[str, Any]:
    return dict(json.loads(_messages(events, "End")))


def _wait_history(coze: Coze, workflow_id: str, execute_id: str) -> WorkflowRunHistory:
    """Poll an async run until it leaves Running (it reports Running for a fraction of a second)."""
    deadline = time.monotonic() + 10
    while True:
        history = coze.workflows.runs.run_histories.retrieve(workflow_id=workflow_id, execute_id=execute_id)
        if history.execute_status != WorkflowExecuteStatus.RUNNING or time.monotonic() > deadline:
            return history
        time.sleep(0.05)


# --- sync client: runs.create ----------------------------------------------------------------------


def test_run_output_depends_on_the_inputs(coze: Coze) -> None:
    ada = coze.workflows.runs.create(workflow_id=GREETING_WORKFLOW_ID, parameters={"name": "Ada", "count": 3})
    bob = coze.workflows.runs.create(workflow_id=GREETING_WORKFLOW_ID, parameters={"name": "Bob"})
    assert json.loads(ada.data or "") == {
        "greeting": "Hello, Ada!",
        "count": 3,
        "lines": ["1/3: Hello, Ada!", "2/3: Hello, Ada!", "3/3: Hello, Ada!"],
        "name_length": 3,
    }
    assert json.loads(bob.data or "")["lines"] == ["1/1: Hello, Bob!"]  # count defaults to 1
    assert ada.usage is not None and ada.usage.token_count > 0
    assert ada.execute_id and ada.debug_url and ada.execute_id in ada.debug_url
    history = coze.workflows.runs.run_histories.retrieve(
        workflow_id=GREETING_WORKFLOW_ID, execute_id=ada.execute_id
    )
    assert history.execute_status == WorkflowExecuteStatus.SUCCESS
    assert history.run_mode == WorkflowRunMode.SYNCHRONOUS
    assert history.output == ada.data and history.error_code == 0


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, "'name' is required"),
        ({"name": "Ada", "count": "many"}, "'count' must be an integer"),
        ({"name": 42}, "'name' must be a string"),
        ({"name": "Ada", "count": 11}, "count must be between 1 and 10"),
    ],
)
def test_bad_input_is_4000_with_a_clear_msg(coze: Coze, parameters: dict[str, Any], expected: str) -> None:
    with pytest.raises(CozeAPIError) as caught:
        coze.workflows.runs.create(workflow_id=GREETING_WORKFLOW_ID, parameters=parameters)
    assert caught.value.code == 4000
    assert expected in (caught.value.msg or "")
    assert caught.value.logid


def test_async_run_then_run_history(coze: Coze) -> None:
    started = coze.workflows.runs.create(
        workflow_id=GREETING_WORKFLOW_ID, parameters={"name": "Grace", "count": 2}, is_async=True
    )
    assert started.execute_id and not started.data  # the result comes from the run history
    history = _wait_history(coze, GREETING_WORKFLOW_ID, started.execute_id)
    assert history.execute_status == WorkflowExecuteStatus.SUCCESS
    assert history.run_mode == WorkflowRunMode.ASYNCHRONOUS
    assert json.loads(history.output)["lines"] == ["1/2: Hello, Grace!", "2/2: Hello, Grace!"]


def test_failing_workflow_fails_every_way(coze: Coze) -> None:
    with pytest.raises(CozeAPIError) as caught:
        coze.workflows.runs.create(workflow_id=FAILING_WORKFLOW_ID)
    assert caught.value.code == 5000 and "Fetch data" in (caught.value.msg or "")
    assert caught.value.debug_url  # Coze adds the debug page to a failed run's error

    events = list(coze.workflows.runs.stream(workflow_id=FAILING_WORKFLOW_ID))
    assert _messages(events, "Fetch data") == "Fetching the data from the upstream service..."
    assert events[-1].event == WorkflowEventType.ERROR and events[-1].error is not None
    assert events[-1].error.error_code == 5000 and "Fetch data" in events[-1].error.error_message

    started = coze.workflows.runs.create(workflow_id=FAILING_WORKFLOW_ID, is_async=True)
    history = _wait_history(coze, FAILING_WORKFLOW_ID, started.execute_id or "")
    assert history.execute_status == WorkflowExecuteStatus.FAIL
    assert history.error_code == 5000 and "Fetch data" in (history.error_message or "")


def test_unknown_workflow_and_run_are_4200(coze: Coze) -> None:
    for call in (
        lambda: coze.workflows.runs.create(workflow_id=UNKNOWN_WORKFLOW_ID),
        lambda: coze.workflows.runs.stream(workflow_id=UNKNOWN_WORKFLOW_ID),
        lambda: coze.workflows.retrieve(workflow_id=UNKNOWN_WORKFLOW_ID),
        lambda: coze.workflows.runs.run_histories.retrieve(workflow_id=GREETING_WORKFLOW_ID, execute_id="1"),
    ):
        with pytest.raises(CozeAPIError) as caught:
            call()
        assert caught.value.code == 4200


def test_a_chatflow_is_not_run_as_a_workflow(coze: Coze) -> None:
    with pytest.raises(CozeAPIError) as caught:
        coze.workflows.runs.create(workflow_id=CHATFLOW_ID)
    assert caught.value.code == 4000 and "/v1/workflows/chat" in (caught.value.msg or "")


# --- sync client: stream, interrupt, resume ---------------------------------------------------------


def test_stream_interrupts_and_resume_uses_the_answer(coze: Coze) -> None:
    events = list(
        coze.workflows.runs.stream(workflow_id=QUESTION_WORKFLOW_ID, parameters={"topic": "a cheese tour"})
    )
    assert [e.id for e in events] == list(range(len(events)))
    assert events[0].event == WorkflowEventType.UNKNOWN and events[0].unknown == {
        "id": "0",
        "event": "PING",
        "data": "{}",
    }
    assert _messages(events, "Plan") == "Let me plan a cheese tour. First I need one detail from you."
    assert _messages(events, "Question") == "Which city should a cheese tour be in?"
    interrupt = events[-1].interrupt
    assert events[-1].event == WorkflowEventType.INTERRUPT and interrupt is not None
    assert interrupt.node_title == "Question" and interrupt.interrupt_data.type == 2

    resumed = list(
        coze.workflows.runs.resume(
            workflow_id=QUESTION_WORKFLOW_ID,
            event_id=interrupt.interrupt_data.event_id,
            resume_data="Lyon",
            interrupt_type=interrupt.interrupt_data.type,
        )
    )
    assert resumed[0].id == 0  # every response numbers its events from 0
    assert "a cheese tour in Lyon" in _messages(resumed, "Plan")
    output = _end_output(resumed)
    assert output["city"] == "Lyon" and output["topic"] == "a cheese tour" and output["questions_asked"] == 1
    assert all(e.event == WorkflowEventType.MESSAGE for e in resumed)  # Done ends the stream quietly

    with pytest.raises(CozeAPIError) as caught:  # an interrupt is answered once
        list(
            coze.workflows.runs.resume(
                workflow_id=QUESTION_WORKFLOW_ID,
                event_id=interrupt.interrupt_data.event_id,
                resume_data="Nice",
                interrupt_type=2,
            )
        )
    assert caught.value.code == 4000


def test_a_blank_answer_is_asked_again(coze: Coze) -> None:
    first = list(coze.workflows.runs.stream(workflow_id=QUESTION_WORKFLOW_ID))
    assert first[-1].interrupt is not None
    again = list(
        coze.workflows.runs.resume(
            workflow_id=QUESTION_WORKFLOW_ID,
            event_id=first[-1].interrupt.interrupt_data.event_id,
            resume_data="  ",
            interrupt_type=2,
        )
    )
    assert "I did not catch that" in _messages(again, "Question")
    second = again[-1].interrupt
    assert (
        second is not None and second.interrupt_data.event_id != first[-1].interrupt.interrupt_data.event_id
    )
    done = list(
        coze.workflows.runs.resume(
            workflow_id=QUESTION_WORKFLOW_ID,
            event_id=second.interrupt_data.event_id,
            resume_data="Oslo",
            interrupt_type=2,
        )
    )
    assert _end_output(done) == {
        "topic": "a weekend trip",
        "city": "Oslo",
        "plan": ["Day 1: walk through the old town of Oslo.", "Day 2: a museum and dinner in Oslo."],
        "questions_asked": 2,
    }


def test_missing_input_in_a_stream_is_an_error_event(coze: Coze) -> None:
    events = list(coze.workflows.runs.stream(workflow_id=GREETING_WORKFLOW_ID, parameters={"count": 2}))
    assert len(events) == 1 and events[0].error is not None
    assert events[0].error.error_code == 4000 and "'name' is required" in events[0].error.error_message


# --- sync client: chatflow, info ------------------------------------------------------------------


def _chatflow_turn(coze: Coze, text: str, conversation_id: str | None = None) -> list[ChatEvent]:
    return list(
        coze.workflows.chat.stream(
            workflow_id=CHATFLOW_ID,
            additional_messages=[Message.build_user_question_text(text)],
            parameters={"tone": "friendly"},
            conversation_id=conversation_id,
        )
    )


def _answer(events: list[ChatEvent]) -> Message:
    completed = [e.message for e in events if e.event == ChatEventType.CONVERSATION_MESSAGE_COMPLETED]
    return next(m for m in completed if m is not None and m.type == MessageType.ANSWER)


def test_chatflow_streams_and_stores_the_conversation(coze: Coze) -> None:
    question = f"hello {uuid.uuid4().hex[:6]}"
    first = _chatflow_turn(coze, question)
    assert first[0].event == ChatEventType.CONVERSATION_CHAT_CREATED
    assert first[-1].event == ChatEventType.CONVERSATION_CHAT_COMPLETED
    answer = _answer(first)
    deltas = [
        e.message.content for e in first if e.event == ChatEventType.CONVERSATION_MESSAGE_DELTA and e.message
    ]
    assert len(deltas) > 1 and "".join(deltas) == answer.content
    assert f"You said: “{question}”" in answer.content and "tone=friendly" in answer.content
    conversation_id = answer.conversation_id

    second = _answer(_chatflow_turn(coze, "and again", conversation_id))
    assert second.conversation_id == conversation_id
    assert "turn 2" in second.content and question in second.content

    listed = coze.conversations.messages.list(conversation_id=conversation_id, order="asc")
    assert [(m.role, m.content) for m in listed.items] == [
        ("user", question),
        ("assistant", answer.content),
        ("user", "and again"),
        ("assistant", second.content),
    ]


def test_list_and_retrieve_workflows(coze: Coze) -> None:
    ids = [w.workflow_id for w in coze.workflows.list()]
    assert ids == [GREETING_WORKFLOW_ID, QUESTION_WORKFLOW_ID, FAILING_WORKFLOW_ID, CHATFLOW_ID]
    # cozepy puts its enum in the query as "WorkflowMode.CHATFLOW" (str() of the enum): a plain string works.
    chatflows = [w.workflow_id for w in coze.workflows.list(workflow_mode="chatflow")]  # type: ignore[arg-type]
    assert chatflows == [CHATFLOW_ID]
    with pytest.raises(CozeAPIError) as caught:
        list(coze.workflows.list(workflow_mode=WorkflowMode.CHATFLOW))
    assert caught.value.code == 4000 and "WorkflowMode.CHATFLOW" in (caught.value.msg or "")
    paged = coze.workflows.list(page_size=3)
    assert [w.workflow_id for w in paged] == ids  # the SDK follows has_more to the second page
    info = coze.workflows.retrieve(workflow_id=GREETING_WORKFLOW_ID)
    assert info.workflow_detail.workflow_name == "Greeting demo"


# --- async client ---------------------------------------------------------------------------------


async def _collect(events: AsyncIterator[Any]) -> list[Any]:
    return [event async for event in events]


async def test_async_client_runs_and_reads_the_history(acoze: AsyncCoze) -> None:
    result = await acoze.workflows.runs.create(workflow_id=GREETING_WORKFLOW_ID, parameters={"name": "Lin"})
    assert json.loads(result.data or "")["greeting"] == "Hello, Lin!"
    started = await acoze.workflows.runs.create(
        workflow_id=GREETING_WORKFLOW_ID, parameters={"name": "Kim", "count": 4}, is_async=True
    )
    for _ in range(200):
        history = await acoze.workflows.runs.run_histories.retrieve(
            workflow_id=GREETING_WORKFLOW_ID, execute_id=started.execute_id or ""
        )
        if history.execute_status != WorkflowExecuteStatus.RUNNING:
            break
        await asyncio.sleep(0.05)
    assert history.execute_status == WorkflowExecuteStatus.SUCCESS
    assert json.loads(history.output)["count"] == 4
    with pytest.raises(CozeAPIError) as caught:
        await acoze.workflows.runs.create(workflow_id=GREETING_WORKFLOW_ID)
    assert caught.value.code == 4000


async def test_async_client_streams_interrupt_and_resume(acoze: AsyncCoze) -> None:
    events = await _collect(acoze.workflows.runs.stream(workflow_id=QUESTION_WORKFLOW_ID))
    interrupt = events[-1].interrupt
    assert interrupt is not None
    resumed = await _collect(
        acoze.workflows.runs.resume(
            workflow_id=QUESTION_WORKFLOW_ID,
            event_id=interrupt.interrupt_data.event_id,
            resume_data="Kyoto",
            interrupt_type=interrupt.interrupt_data.type,
        )
    )
    assert _end_output(resumed)["city"] == "Kyoto"
    failed = await _collect(acoze.workflows.runs.stream(workflow_id=FAILING_WORKFLOW_ID))
    assert failed[-1].event == WorkflowEventType.ERROR and failed[-1].error.error_code == 5000


async def test_async_client_chatflow_and_unknown_workflow(acoze: AsyncCoze) -> None:
    events = await _collect(
        acoze.workflows.chat.stream(
            workflow_id=CHATFLOW_ID, additional_messages=[Message.build_user_question_text("ping pong")]
        )
    )
    assert "You said: “ping pong”" in _answer(events).content
    with pytest.raises(CozeAPIError) as caught:
        await _collect(acoze.workflows.runs.stream(workflow_id=UNKNOWN_WORKFLOW_ID))
    assert caught.value.code == 4200


# --- the wire itself ------------------------------------------------------------------------------


def test_stream_frames_are_shaped_like_cozes(http: httpx.Client) -> None:
    response = http.post(
        "/v1/workflow/stream_run",
        headers=AUTH,
        json={"workflow_id": GREETING_WORKFLOW_ID, "parameters": {"name": "Zoë"}},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = response.text.split("\n\n")
    assert blocks[-1] == ""
    frames = [block.split("\n") for block in blocks[:-1]]
    assert all(len(lines) == 3 for lines in frames)
    assert [lines[0] for lines in frames] == [f"id: {i}" for i in range(len(frames))]
    assert frames[0][1] == "event: Message" and frames[-1][1] == "event: Done"
    done = json.loads(frames[-1][2][len("data: ") :])
    assert done["debug_url"].startswith(str(http.base_url).rstrip("/"))
    assert "Zoë" in response.text  # raw UTF-8, as Coze sends it


def test_resume_checks_its_input(http: httpx.Client) -> None:
    body = {"workflow_id": QUESTION_WORKFLOW_ID, "parameters": '{"topic": "a picnic"}'}  # a JSON string works
    text = http.post("/v1/workflow/stream_run", headers=AUTH, json=body).text
    interrupt = json.loads(text.rstrip("\n").split("\n")[-1][len("data: ") :])["interrupt_data"]
    resume = {"workflow_id": QUESTION_WORKFLOW_ID, "event_id": interrupt["event_id"], "resume_data": "Rome"}
    for wrong, expected in [
        ({"interrupt_type": 5}, "does not match"),
        ({"interrupt_type": 2, "event_id": "123/1"}, "not a pending interrupt"),
        ({"interrupt_type": 2, "resume_data": None}, "resume_data must be a string"),
        ({"interrupt_type": 2, "workflow_id": GREETING_WORKFLOW_ID}, "not a pending interrupt"),
    ]:
        answer = http.post("/v1/workflow/stream_resume", headers=AUTH, json={**resume, **wrong}).json()
        assert answer["code"] == 4000 and expected in answer["msg"]
    ok = http.post("/v1/workflow/stream_resume", headers=AUTH, json={**resume, "interrupt_type": 2})
    end = json.loads(ok.text.split("\n\n")[-3].split("\n")[2][len("data: ") :])
    output = json.loads(end["content"])
    assert end["node_title"] == "End" and output["city"] == "Rome" and output["topic"] == "a picnic"
    assert "event: Done" in ok.text


def test_a_sync_run_that_asks_returns_interrupt_data(http: httpx.Client) -> None:
    answer = http.post("/v1/workflow/run", headers=AUTH, json={"workflow_id": QUESTION_WORKFLOW_ID}).json()
    assert answer["code"] == 0 and answer["data"] == ""
    assert (
        json.loads(answer["interrupt_data"]["data"])["content"] == "Which city should a weekend trip be in?"
    )
    resumed = http.post(
        "/v1/workflow/stream_resume",
        headers=AUTH,
        json={
            "workflow_id": QUESTION_WORKFLOW_ID,
            "event_id": answer["interrupt_data"]["event_id"],
            "resume_data": "Porto",
            "interrupt_type": 2,
        },
    )
    assert "Porto" in resumed.text
    history = http.get(
        f"/v1/workflows/{QUESTION_WORKFLOW_ID}/run_histories/{answer['execute_id']}", headers=AUTH
    )
    assert json.loads(history.json()["data"][0]["output"])["city"] == "Porto"
