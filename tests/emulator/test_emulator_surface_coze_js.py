"""More of Coze's surface through the official JavaScript SDK (`@coze/api` 1.3.9, through node).

coze-js 1.3.9 has no method for renaming or deleting a conversation, nor for message feedback: those
tests call the paths with the SDK's own client (``coze.put``/``coze.delete``/``coze.post``), so the
SDK's envelope and error handling still apply.
"""

from __future__ import annotations

import base64
import io
import json
import wave

import pytest
from emulator_helpers import OTHER_TOKEN, TOKEN, fast_bots

from botport.emulator.audio import VOICES
from botport.emulator.bots import DEMO_BOT_ID
from botport.emulator.workspace_routes import WORKSPACE_ID
from coze_js_helpers import CozeJsError, needs_coze_js, run_coze_js

pytestmark = [needs_coze_js, pytest.mark.live]

# The body of a snippet that needs a conversation with one answered turn: sets `conversationId` and
# `answer` (the answer message).
ONE_TURN = f"""
const conversation = await coze.conversations.create({{ bot_id: '{DEMO_BOT_ID}' }});
const conversationId = conversation.id;
let answer = null;
for await (const part of await coze.chat.stream({{
  bot_id: '{DEMO_BOT_ID}',
  conversation_id: conversationId,
  additional_messages: [{{ role: 'user', content: 'hello', content_type: 'text', type: 'question' }}],
}})) {{
  if (part.event === sdk.ChatEventType.CONVERSATION_MESSAGE_COMPLETED && part.data.type === 'answer') {{
    answer = part.data;
  }}
}}
"""

# Runs `call` and answers what it raised, or null.
CAUGHT = """
const caught = async (call) => {
  try { await call(); return null; } catch (e) {
    return { name: e.name, code: e.code ?? null, status: e.status ?? null };
  }
};
"""


def test_bots_list_v1_and_v2_page(emulator_server) -> None:  # type: ignore[no-untyped-def]
    expected = [bot.id for bot in fast_bots()]
    result = run_coze_js(
        f"""
        const v1 = [];
        for (let page = 1; page <= 4; page++) {{
          v1.push(await coze.bots.list({{ space_id: 'any', page_size: 1, page_index: page }}));
        }}
        const v2 = [1, 2].map(
          (page_num) => coze.bots.listNew({{ workspace_id: 'ws', page_size: 3, page_num }}),
        );
        const bot = await coze.bots.retrieveNew('{DEMO_BOT_ID}');
        return {{ v1, v2: await Promise.all(v2), name: bot.name }};
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert [page["total"] for page in result["v1"]] == [len(expected)] * 4
    assert [page["space_bots"][0]["bot_id"] for page in result["v1"]] == expected
    assert [[b["id"] for b in page["items"]] for page in result["v2"]] == [expected[:3], expected[3:]]
    assert all(b["is_published"] for page in result["v2"] for b in page["items"])
    assert result["name"] == "Demo"


def test_workspaces_list(emulator_server) -> None:  # type: ignore[no-untyped-def]
    result = run_coze_js(
        "return await coze.workspaces.list({ page_num: 1, page_size: 50 });",
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert result["total_count"] == 1
    (space,) = result["workspaces"]
    assert space["id"] == WORKSPACE_ID and space["name"] == "Personal"
    assert space["role_type"] == "owner" and space["workspace_type"] == "personal"


def test_rename_and_delete_a_conversation(emulator_server) -> None:  # type: ignore[no-untyped-def]
    result = run_coze_js(
        ONE_TURN
        + CAUGHT
        + """
        const path = `/v1/conversations/${conversationId}`;
        const renamed = await coze.put(path, { name: 'Renamed in JS' });
        const retrieved = await coze.conversations.retrieve(conversationId);
        const deleted = await coze.delete(path);
        return {
          conversationId,
          renamed: renamed.data,
          retrievedName: retrieved.name,
          deletedCode: deleted.code,
          afterRetrieve: await caught(() => coze.conversations.retrieve(conversationId)),
          afterDelete: await caught(() => coze.delete(path)),
          afterMessages: await caught(() => coze.conversations.messages.list(conversationId)),
          afterChat: await caught(() => coze.chat.create({
            bot_id: answer.bot_id,
            conversation_id: conversationId,
            additional_messages: [{ role: 'user', content: 'again', content_type: 'text', type: 'question' }],
          })),
        };
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert (
        result["renamed"]["id"] == result["conversationId"] and result["renamed"]["name"] == "Renamed in JS"
    )
    assert result["retrievedName"] == "Renamed in JS" and result["deletedCode"] == 0
    for after in ("afterRetrieve", "afterDelete", "afterMessages", "afterChat"):
        assert result[after] == {"name": "NotFoundError", "code": 4200, "status": 404}, after


def test_another_token_cannot_rename_or_delete(emulator_server) -> None:  # type: ignore[no-untyped-def]
    mine = run_coze_js(
        f"return (await coze.conversations.create({{ bot_id: '{DEMO_BOT_ID}' }})).id;",
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    for snippet in (
        f"await coze.put('/v1/conversations/{mine}', {{ name: 'x' }});",
        f"await coze.delete('/v1/conversations/{mine}');",
    ):
        with pytest.raises(CozeJsError) as info:
            run_coze_js(snippet, base_url=emulator_server.base_url, token=OTHER_TOKEN)
        assert info.value.code == 4200
    assert (
        run_coze_js(
            f"return (await coze.conversations.retrieve('{mine}')).id;",
            base_url=emulator_server.base_url,
            token=TOKEN,
        )
        == mine
    )


def test_message_feedback(emulator_server) -> None:  # type: ignore[no-untyped-def]
    result = run_coze_js(
        ONE_TURN
        + CAUGHT
        + """
        const path = `/v1/conversations/${conversationId}/messages/${answer.id}/feedback`;
        const body = { feedback_type: 'like', reason_types: ['clear'], comment: 'nice' };
        const liked = await coze.post(path, body);
        return {
          messageId: answer.id,
          likedCode: liked.code,
          unknown: await caught(() => coze.post(`/v1/conversations/${conversationId}/messages/1/feedback`,
            { feedback_type: 'like' })),
          badType: await caught(() => coze.post(path, { feedback_type: 'love' })),
        };
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    record = emulator_server.app.state.emulator.store.feedback[result["messageId"]]
    assert (record.feedback_type, record.reason_types, record.comment) == ("like", ["clear"], "nice")
    assert result["likedCode"] == 0
    assert result["unknown"] == {"name": "NotFoundError", "code": 4200, "status": 404}
    assert result["badType"] == {"name": "BadRequestError", "code": 4000, "status": 400}
    removed = run_coze_js(
        f"""
        const path = '/v1/conversations/{record.conversation_id}/messages/{record.message_id}/feedback';
        return (await coze.delete(path)).code;
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert removed == 0 and record.message_id not in emulator_server.app.state.emulator.store.feedback


def test_audio(emulator_server) -> None:  # type: ignore[no-untyped-def]
    text = "Speech from coze-js, 你好"
    result = run_coze_js(
        CAUGHT
        + f"""
        const fs = await import('node:fs');
        const os = await import('node:os');
        const path = await import('node:path');
        const voices = await coze.audio.voices.list({{ page_size: 2 }});
        const audio = await coze.audio.speech.create({{
          input: {json.dumps(text)}, voice_id: voices.voice_list[0].voice_id, response_format: 'wav',
        }});
        // In node, coze-js's transcription call takes a stream of a file (axios's form-data).
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'speech-')), 'speech.wav');
        fs.writeFileSync(file, Buffer.from(audio));
        const transcription = await coze.audio.transcriptions.create({{ file: fs.createReadStream(file) }});
        return {{
          voices: voices.voice_list.map((v) => v.voice_id),
          hasMore: voices.has_more,
          audio: Buffer.from(audio).toString('base64'),
          text: transcription.text,
          mp3: await caught(
            () => coze.audio.speech.create({{ input: 'hi', voice_id: voices.voice_list[0].voice_id }}),
          ),
          rooms: await caught(() => coze.audio.rooms.create({{ bot_id: '{DEMO_BOT_ID}' }})),
        }};
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert result["voices"] == [v.voice_id for v in VOICES[:2]] and result["hasMore"] is True
    with wave.open(io.BytesIO(base64.b64decode(result["audio"]))) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 24000)
        assert audio.getnframes() == 1200 * len(text)  # 50 ms a character at 24 kHz
    assert result["text"] == text
    # An error of the speech call answers HTTP 400: coze-js reads a 200 answer of it as audio. The SDK
    # reads the body as bytes, so its error has the status but not Coze's code.
    assert result["mp3"] == {"name": "BadRequestError", "code": None, "status": 400}
    assert result["rooms"] == {"name": "BadRequestError", "code": 4000, "status": 400}
