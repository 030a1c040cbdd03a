"""The official Coze JavaScript SDK (`@coze/api` 1.3.9, through node) against the emulator's workflows."""

from __future__ import annotations

import json

import pytest
from emulator_helpers import TOKEN

from botport.emulator.workflows import (
    CHATFLOW_ID,
    FAILING_WORKFLOW_ID,
    GREETING_WORKFLOW_ID,
    QUESTION_WORKFLOW_ID,
)
from coze_js_helpers import CozeJsError, needs_coze_js, run_coze_js

pytestmark = needs_coze_js

# Collects a workflow event stream as plain objects (coze-js yields WorkflowEvent instances).
COLLECT = """
const collect = async (stream) => {
  const out = [];
  for await (const e of stream) out.push({ id: e.id, event: e.event, data: e.data ?? null });
  return out;
};
const text = (events, node) =>
  events
    .filter((e) => e.event === 'Message' && e.data.node_title === node)
    .map((e) => e.data.content)
    .join('');
"""


def test_coze_js_runs_sync_and_async(emulator_server) -> None:  # type: ignore[no-untyped-def]
    result = run_coze_js(
        f"""
        const sync = await coze.workflows.runs.create({{
          workflow_id: '{GREETING_WORKFLOW_ID}', parameters: {{ name: 'Ada', count: 2 }},
        }});
        const started = await coze.workflows.runs.create({{
          workflow_id: '{GREETING_WORKFLOW_ID}', parameters: {{ name: 'Eve', count: 3 }}, is_async: true,
        }});
        let history = null;
        for (let i = 0; i < 200; i++) {{
          [history] = await coze.workflows.runs.history('{GREETING_WORKFLOW_ID}', started.execute_id);
          if (history.execute_status !== 'Running') break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }}
        return {{ sync, started, history }};
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    sync, started, history = result["sync"], result["started"], result["history"]
    assert sync["code"] == 0 and json.loads(sync["data"])["lines"] == ["1/2: Hello, Ada!", "2/2: Hello, Ada!"]
    assert sync["execute_id"] and sync["debug_url"]
    assert started["execute_id"] and "data" not in started
    assert history["execute_status"] == "Success" and history["run_mode"] == 2
    assert history["execute_id"] == started["execute_id"] and history["error_code"] == ""
    assert json.loads(history["output"])["greeting"] == "Hello, Eve!"
    assert json.loads(history["output"])["count"] == 3


def test_coze_js_streams_interrupt_and_resume(emulator_server) -> None:  # type: ignore[no-untyped-def]
    result = run_coze_js(
        COLLECT
        + f"""
        const events = await collect(coze.workflows.runs.stream({{
          workflow_id: '{QUESTION_WORKFLOW_ID}', parameters: {{ topic: 'a jazz night' }},
        }}));
        const interrupt = events[events.length - 1].data.interrupt_data;
        const resumed = await collect(coze.workflows.runs.resume({{
          workflow_id: '{QUESTION_WORKFLOW_ID}', event_id: interrupt.event_id,
          resume_data: 'New Orleans', interrupt_type: interrupt.type,
        }}));
        return {{
          names: events.map((e) => e.event), ids: events.map((e) => e.id), plan: text(events, 'Plan'),
          question: text(events, 'Question'), interrupt, resumedNames: resumed.map((e) => e.event),
          resumedPlan: text(resumed, 'Plan'), output: JSON.parse(text(resumed, 'End')),
        }};
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert result["names"][0] == "PING"
    assert result["names"][-2:] == ["Message", "Interrupt"]
    assert result["ids"] == list(range(len(result["ids"])))
    assert result["plan"] == "Let me plan a jazz night. First I need one detail from you."
    assert result["question"] == "Which city should a jazz night be in?"
    assert result["interrupt"]["type"] == 2
    assert result["resumedNames"][-1] == "Done"
    assert "a jazz night in New Orleans" in result["resumedPlan"]
    assert result["output"]["city"] == "New Orleans" and result["output"]["questions_asked"] == 1


def test_coze_js_sees_the_failing_workflow_fail(emulator_server) -> None:  # type: ignore[no-untyped-def]
    result = run_coze_js(
        COLLECT
        + f"""
        const events = await collect(coze.workflows.runs.stream({{ workflow_id: '{FAILING_WORKFLOW_ID}' }}));
        let error = null;
        try {{
          await coze.workflows.runs.create({{ workflow_id: '{FAILING_WORKFLOW_ID}' }});
        }} catch (e) {{
          error = {{ name: e.constructor.name, code: e.code, message: e.message }};
        }}
        return {{ last: events[events.length - 1], fetched: text(events, 'Fetch data'), error }};
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert result["last"]["event"] == "Error"
    assert result["last"]["data"]["error_code"] == 5000
    assert "Fetch data" in result["last"]["data"]["error_message"]
    assert result["fetched"] == "Fetching the data from the upstream service..."
    assert result["error"]["code"] == 5000 and "Fetch data" in result["error"]["message"]


def test_coze_js_chats_with_the_chatflow(emulator_server) -> None:  # type: ignore[no-untyped-def]
    result = run_coze_js(
        f"""
        let text = '', answer = null, conversationId = null, completed = null;
        for await (const part of coze.workflows.chat.stream({{
          workflow_id: '{CHATFLOW_ID}',
          additional_messages: [
            {{ role: 'user', content: 'hi from js', content_type: 'text', type: 'question' }},
          ],
          parameters: {{ tone: 'calm' }},
        }})) {{
          if (part.event === sdk.ChatEventType.CONVERSATION_MESSAGE_DELTA) text += part.data.content;
          const completedMessage = part.event === sdk.ChatEventType.CONVERSATION_MESSAGE_COMPLETED;
          if (completedMessage && part.data.type === 'answer') {{
            answer = part.data.content;
            conversationId = part.data.conversation_id;
          }}
          if (part.event === sdk.ChatEventType.CONVERSATION_CHAT_COMPLETED) completed = part.data.status;
        }}
        const listed = await coze.conversations.messages.list(conversationId, {{ order: 'asc' }});
        return {{ text, answer, completed, messages: listed.data.map((m) => [m.role, m.content]) }};
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert result["completed"] == "completed"
    assert result["text"] == result["answer"]
    assert "You said: “hi from js”" in result["answer"] and "tone=calm" in result["answer"]
    assert result["messages"] == [["user", "hi from js"], ["assistant", result["answer"]]]


def test_coze_js_unknown_workflow_is_not_found(emulator_server) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CozeJsError) as caught:
        run_coze_js(
            "return await coze.workflows.runs.create({ workflow_id: '7199999999999999999' });",
            base_url=emulator_server.base_url,
            token=TOKEN,
        )
    assert caught.value.code == 4200 and caught.value.name == "NotFoundError"
    assert "7199999999999999999" in caught.value.message
    with pytest.raises(CozeJsError) as missing:
        run_coze_js(
            f"return await coze.workflows.runs.create({{ workflow_id: '{GREETING_WORKFLOW_ID}' }});",
            base_url=emulator_server.base_url,
            token=TOKEN,
        )
    assert missing.value.code == 4000 and missing.value.name == "BadRequestError"
    assert "'name' is required" in missing.value.message
