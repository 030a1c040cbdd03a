"""The official Coze JavaScript SDK (`@coze/api` 1.3.9, through node) against the emulator."""

from __future__ import annotations

from emulator_helpers import TOKEN

from botport.emulator.bots import DEMO_BOT_ID
from coze_js_helpers import needs_coze_js, run_coze_js

pytestmark = needs_coze_js


def test_coze_js_streams_a_chat_and_reads_the_bot(emulator_server) -> None:  # type: ignore[no-untyped-def]
    result = run_coze_js(
        f"""
        const bot = await coze.bots.retrieve({{ bot_id: '{DEMO_BOT_ID}' }});
        let text = '';
        let completed = null;
        for await (const part of await coze.chat.stream({{
          bot_id: '{DEMO_BOT_ID}',
          additional_messages: [{{ role: 'user', content: 'hello', content_type: 'text', type: 'question' }}],
        }})) {{
          if (part.event === sdk.ChatEventType.CONVERSATION_MESSAGE_DELTA) text += part.data.content;
          if (part.event === sdk.ChatEventType.CONVERSATION_CHAT_COMPLETED) completed = part.data.status;
        }}
        return {{ name: bot.name, text, completed }};
        """,
        base_url=emulator_server.base_url,
        token=TOKEN,
    )
    assert result["name"]
    assert result["text"]
    assert result["completed"] == "completed"
