"""The SSE decoder, against the spec and at every chunk boundary of recorded Coze streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botport.sse import ServerSentEvent, SSEDecoder, aiter_sse

DATA = Path(__file__).resolve().parent.parent / "data"
RECORDED = sorted(DATA.glob("*.sse"))  # ours (coze_*) and the emulator's (emulator_*) when present


def decode(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events


def whole(body: bytes) -> list[ServerSentEvent]:
    return decode([body])


def with_line_ends(body: bytes, line_end: bytes) -> bytes:
    return body.replace(b"\n", line_end)


def test_recorded_streams_exist() -> None:
    names = {p.name for p in RECORDED}
    assert {"coze_text_turn.sse", "coze_tool_turn.sse", "coze_unknown_events.sse"} <= names


# All 2-way splits cost O(n²): a long recording is split at every byte of its first events (up to
# this many bytes), which hold every kind of boundary; it is still fed byte by byte in full.
SPLIT_PREFIX_BYTES = 4000


def leading_events(body: bytes, limit: int, line_end: bytes) -> bytes:
    """The longest prefix of whole events within ``limit`` bytes (all of ``body`` if it fits)."""
    if len(body) <= limit:
        return body
    blank = line_end * 2
    end = body.rfind(blank, 0, limit)
    return body[: end + len(blank)] if end != -1 else body


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_every_chunk_boundary_gives_the_same_events(path: Path, line_end: bytes) -> None:
    body = with_line_ends(path.read_bytes(), line_end)
    expected = whole(body)
    assert expected, "a recorded stream decodes to events"
    assert decode([body[i : i + 1] for i in range(len(body))]) == expected

    head = leading_events(body, SPLIT_PREFIX_BYTES, line_end)
    expected_head = whole(head)
    assert expected_head
    for cut in range(1, len(head)):
        assert decode([head[:cut], head[cut:]]) == expected_head, f"split at byte {cut}"


@pytest.mark.parametrize("path", [p for p in RECORDED if p.name.startswith("coze_")], ids=lambda p: p.name)
def test_recorded_coze_data_lines_are_json(path: Path) -> None:
    for event in whole(path.read_bytes()):
        if event.event != "message":
            json.loads(event.data)


def test_text_turn_decodes_to_the_coze_event_sequence() -> None:
    events = whole((DATA / "coze_text_turn.sse").read_bytes())
    names = [e.event for e in events]
    assert names[:2] == ["conversation.chat.created", "conversation.chat.in_progress"]
    assert names[-2:] == ["conversation.chat.completed", "done"]
    assert names.count("conversation.message.delta") == 5
    assert events[-1].data == '"[DONE]"'
    deltas = [json.loads(e.data)["content"] for e in events if e.event == "conversation.message.delta"]
    completed = json.loads(events[7].data)
    assert completed["type"] == "answer"
    assert "".join(deltas) == completed["content"]
    # A raw U+2028 inside the JSON did not split the line; emoji and Chinese survived every split.
    assert "\u2028" in completed["content"]
    assert "🌳" in completed["content"]


def test_raw_unicode_line_separators_inside_json_do_not_split() -> None:
    payload = json.dumps({"content": "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg"}, ensure_ascii=False)
    body = f"event:x\ndata:{payload}\n\n".encode()
    (event,) = whole(body)
    assert json.loads(event.data)["content"] == "a\u2028b\u2029c\x85d\x0be\x0cf\x1cg"


@pytest.mark.parametrize("text", ["星期五", "🌳☕️", "é"])
def test_utf8_character_split_across_chunks(text: str) -> None:
    body = f"data:{text}\n\n".encode()
    for cut in range(len(b"data:") + 1, len(b"data:") + len(text.encode())):
        assert decode([body[:cut], body[cut:]]) == [ServerSentEvent(data=text)]
    assert decode([bytes([b]) for b in body]) == [ServerSentEvent(data=text)]


def test_multi_line_data_is_joined_with_newline() -> None:
    body = b"event:e\ndata:first\ndata:\ndata: third\n\n"
    assert whole(body) == [ServerSentEvent(event="e", data="first\n\nthird")]


def test_one_space_after_the_colon_is_stripped_and_only_one() -> None:
    assert whole(b"data:  two spaces\n\n") == [ServerSentEvent(data=" two spaces")]
    assert whole(b"event: named\ndata: x\n\n") == [ServerSentEvent(event="named", data="x")]
    assert whole(b"data:{}\n\n") == [ServerSentEvent(data="{}")]


def test_comments_are_ignored() -> None:
    body = b": keep-alive\n:\ndata:a\n: between\ndata:b\n\n:trailing\n\n"
    assert whole(body) == [ServerSentEvent(data="a\nb")]


def test_a_field_without_colon_has_an_empty_value() -> None:
    assert whole(b"data\n\n") == [ServerSentEvent(data="")]
    assert whole(b"event\ndata:x\n\n") == [ServerSentEvent(event="message", data="x")]


def test_unknown_fields_are_ignored() -> None:
    assert whole(b"foo:bar\ndata:x\nDATA:y\n\n") == [ServerSentEvent(data="x")]


def test_blank_line_without_data_dispatches_nothing_and_resets_event_name() -> None:
    assert whole(b"event:lost\n\ndata:x\n\n") == [ServerSentEvent(event="message", data="x")]
    assert whole(b"\n\n\n") == []


def test_id_and_retry() -> None:
    body = b"id:1\nretry:3000\ndata:a\n\ndata:b\n\nid:bad\x00id\nretry:soon\ndata:c\n\nid\ndata:d\n\n"
    assert whole(body) == [
        ServerSentEvent(data="a", id="1", retry=3000),
        ServerSentEvent(data="b", id="1", retry=3000),  # the last event id persists
        ServerSentEvent(data="c", id="1", retry=3000),  # NUL in id and non-digits in retry are ignored
        ServerSentEvent(data="d", id="", retry=3000),
    ]


@pytest.mark.parametrize("line_end", [b"\n", b"\r", b"\r\n"], ids=["LF", "CR", "CRLF"])
def test_each_line_ending_alone(line_end: bytes) -> None:
    body = b"event:e" + line_end + b"data:x" + line_end + line_end
    assert whole(body) == [ServerSentEvent(event="e", data="x")]


def test_mixed_line_endings() -> None:
    body = b"event:e\r\ndata:a\rdata:b\ndata:c\r\n\r"
    assert whole(body) == [ServerSentEvent(event="e", data="a\nb\nc")]


def test_cr_and_lf_split_across_chunks_are_one_line_break() -> None:
    # Were CR|LF read as two breaks, the LF would be a blank line and dispatch early.
    chunks = [b"event:e\r", b"\ndata:a\r", b"\ndata:b\r", b"\n\r", b"\n"]
    assert decode(chunks) == [ServerSentEvent(event="e", data="a\nb")]


def test_cr_then_lf_in_a_later_chunk_after_an_empty_chunk() -> None:
    assert decode([b"data:a\r", b"", b"\n\r\n"]) == [ServerSentEvent(data="a")]


def test_two_crs_are_two_line_breaks() -> None:
    assert decode([b"data:a\r", b"\r"]) == [ServerSentEvent(data="a")]


def test_bom_at_stream_start_is_stripped_even_when_split() -> None:
    body = b"\xef\xbb\xbfevent:e\ndata:x\n\n"
    assert whole(body) == [ServerSentEvent(event="e", data="x")]
    assert decode([body[:1], body[1:2], body[2:]]) == [ServerSentEvent(event="e", data="x")]


def test_bom_later_in_the_stream_is_kept() -> None:
    # Only the stream's first character may be a BOM; elsewhere it is data (or part of a field name).
    assert whole(b"data:\xef\xbb\xbfx\n\n") == [ServerSentEvent(data="\ufeffx")]
    assert whole(b"\xef\xbb\xbf\xef\xbb\xbfdata:x\n\n") == []


def test_incomplete_event_at_end_of_stream_is_not_dispatched() -> None:
    assert whole(b"event:e\ndata:x\n") == []
    assert whole(b"event:e\ndata:x") == []
    assert whole(b"data:a\n\ndata:partial") == [ServerSentEvent(data="a")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert whole(b"data:\xff\xfe ok\n\n") == [ServerSentEvent(data="\ufffd\ufffd ok")]


def test_many_events_in_one_chunk_and_one_event_in_many_chunks() -> None:
    body = b"".join(b"event:n%d\ndata:%d\n\n" % (i, i) for i in range(50))
    expected = [ServerSentEvent(event=f"n{i}", data=str(i)) for i in range(50)]
    assert whole(body) == expected
    assert decode([body[i : i + 7] for i in range(0, len(body), 7)]) == expected


def test_unknown_event_names_are_just_names() -> None:
    assert whole(b"event:conversation.chat.brand_new\ndata:{}\n\n") == [
        ServerSentEvent(event="conversation.chat.brand_new", data="{}")
    ]


async def test_aiter_sse_yields_events_as_chunks_arrive() -> None:
    body = (DATA / "coze_text_turn.sse").read_bytes()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 13):
            yield body[i : i + 13]

    events = [e async for e in aiter_sse(chunks())]
    assert events == whole(body)
