"""An answer that is not text (``object_string`` parts, a ``card``) becomes Markdown, never raw JSON: an
image part a link ``[image](url)`` that the page renders as a link (no third-party image loads), its
text once as a delta when the message completes. (Through botport's API: tests/gateway/
test_gateway_attachments.py.)"""

from __future__ import annotations

import json
from typing import Any

from test_translate import chat, ev, msg, run

from botport.chat.events import MessageCompleted, TextDelta
from botport.chat.translate import answer_text
from botport.render import render_markdown

PARTS = [
    {"type": "text", "text": "Here is your cat:"},
    {"type": "image", "file_url": "https://cdn.example/cat (1).png"},
    {"type": "file", "file_url": "https://cdn.example/report.pdf", "name": "report [final].pdf"},
    {"type": "image", "file_id": "7390"},  # no address to show
    {"type": "file", "file_url": "javascript:alert(1)"},
]


def test_object_string_parts_become_markdown() -> None:
    text = answer_text(json.dumps(PARTS), "object_string")
    assert text == (
        "Here is your cat:\n\n"
        "[image](https://cdn.example/cat%20%281%29.png)\n\n"
        "[report \\[final\\].pdf](https://cdn.example/report.pdf)\n\n"
        "*(image: no address given)*\n\n"
        "*(file: no address given)*"
    )
    html = render_markdown(text)
    assert '<a href="https://cdn.example/cat%20%281%29.png"' in html and "<img" not in html
    assert "javascript" not in html and "7390" not in html


def test_what_cannot_be_read_as_parts() -> None:
    assert answer_text("plain words", "text") == "plain words"
    assert answer_text('{"not": "a list"}', "object_string") == '{"not": "a list"}'
    assert answer_text("not json", "object_string") == "not json"
    card = answer_text('{"card_type": 3, "template": "..."}', "card")
    assert card == "*(The bot sent a card, which cannot be shown here.)*"


def _parts_message(content: str = json.dumps(PARTS[:2]), **extra: Any) -> dict[str, Any]:
    return msg("answer", content, content_type="object_string", **extra)


def test_an_object_string_answer_streams_its_text_once_and_no_json() -> None:
    state, out = run(
        [
            ev("conversation.chat.created", **chat("created")),
            ev("conversation.message.delta", **msg("answer", "First, ")),
            ev("conversation.message.delta", **msg("answer", "a word.")),
            ev("conversation.message.completed", **msg("answer", "First, a word.")),
            # Its JSON arrives in deltas too: none of it is shown.
            ev("conversation.message.delta", **_parts_message(id="m2", content='[{"type":')),
            ev("conversation.message.completed", **_parts_message(id="m2")),
            ev("conversation.chat.completed", **chat("completed")),
        ]
    )
    shown = "First, a word.\n\nHere is your cat:\n\n[image](https://cdn.example/cat%20%281%29.png)"
    deltas = "".join(e.text for e in out if isinstance(e, TextDelta))
    assert deltas == shown and state.content == shown
    assert [e.content for e in out if isinstance(e, MessageCompleted)] == ["First, a word.", shown]
    assert state.answer_message_id == "m2"
