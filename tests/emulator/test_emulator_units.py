"""Unit tests of the emulator's pure parts: SSE encoding, fault header, paging, word chunks."""

from __future__ import annotations

import json

import pytest

from botport.emulator.conversation_routes import page_messages
from botport.emulator.envelope import EmulatorError
from botport.emulator.faults import FaultHeaderError, Faults, parse_fault_header
from botport.emulator.plan import word_chunks
from botport.emulator.sse import encode_done, encode_event
from botport.emulator.state import MessageRecord


def test_encode_event_is_coze_shaped() -> None:
    frame = encode_event("conversation.message.delta", {"content": "星期\u2028三\n", "n": 1})
    assert frame == 'event:conversation.message.delta\ndata:{"content":"星期\\u2028三\\n","n":1}\n\n'.encode()
    assert json.loads(frame.decode().split("\n")[1][len("data:") :])["content"] == "星期\u2028三\n"
    assert encode_done() == b'event:done\ndata:"[DONE]"\n\n'


def test_parse_fault_header() -> None:
    overrides = parse_fault_header("first_delay=0.5; delta_delay=0, cut_after=3;;")
    assert overrides == {"first_delay": 0.5, "delta_delay": 0.0, "cut_after": 3}
    assert Faults(delta_delay=0.02).with_overrides(overrides) == Faults(first_delay=0.5, cut_after=3)
    assert parse_fault_header(None) == {} and parse_fault_header("") == {}


@pytest.mark.parametrize(
    "header", ["nope=1", "cut_after=x", "cut_after", "first_delay=-1", "http_status=5.5"]
)
def test_parse_fault_header_rejects(header: str) -> None:
    with pytest.raises(FaultHeaderError):
        parse_fault_header(header)


def test_word_chunks_rebuild_the_text() -> None:
    text = "  **Turn 1.** You said:\n\n> <b>hi</b>  there\n"
    chunks = word_chunks(text)
    assert "".join(chunks) == text and len(chunks) > 5
    assert word_chunks("") == []


def _messages(n: int) -> list[MessageRecord]:
    return [
        MessageRecord(conversation_id="c", section_id="c", role="user", type="question", content=str(i))
        for i in range(n)
    ]


def test_paging_walks_forward_and_back() -> None:
    messages = _messages(5)
    page, more = page_messages(messages, order="desc", before_id="", after_id="", limit=2)
    assert [m.content for m in page] == ["4", "3"] and more
    page, more = page_messages(messages, order="desc", before_id="", after_id=page[-1].id, limit=2)
    assert [m.content for m in page] == ["2", "1"] and more
    page, more = page_messages(messages, order="desc", before_id="", after_id=page[-1].id, limit=2)
    assert [m.content for m in page] == ["0"] and not more
    page, more = page_messages(messages, order="asc", before_id=messages[3].id, after_id="", limit=2)
    assert [m.content for m in page] == ["1", "2"] and more
    with pytest.raises(EmulatorError):
        page_messages(messages, order="asc", before_id="", after_id="missing", limit=2)
