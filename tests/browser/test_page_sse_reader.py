"""The page's SSE reader (web/js/sse.js), run in the browser: lines end at CR, LF and CRLF only, at
any chunk boundary; ``id:`` sets the last event id that every later event carries."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page

pytestmark = pytest.mark.browser

READ_ALL = """
async ([chunks]) => {
  const { readEvents } = await import('/static/js/sse.js');
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new Uint8Array(chunk));
      controller.close();
    },
  });
  const events = [];
  for await (const event of readEvents(body)) events.push(event);
  return events;
}
"""


def read_events(page: Page, chunks: list[bytes]) -> list[dict[str, str]]:
    result: list[dict[str, str]] = page.evaluate(READ_ALL, [[list(chunk) for chunk in chunks]])
    return result


def every_split(data: bytes) -> list[list[bytes]]:
    return [[data[:i], data[i:]] for i in range(len(data) + 1)]


def test_frames_at_every_chunk_boundary(page: Page) -> None:
    separator = "\u2028 \u2029 \u0085 中"  # not line ends; 中 is 3 UTF-8 bytes that a split may cut
    payload = json.dumps({"text": separator}, ensure_ascii=False)
    stream = (
        ": ping\r\n"
        f"id: 1\r\nevent: text.delta\r\ndata: {payload}\r\n\r\n"
        'event: turn.completed\rdata: {"a": 1}\rid:12\r\r'
        "data: line one\ndata:line two\nunknown: x\n\n"
        "id: 13\x00\ndata: an id with NUL is ignored\n\n"
        "id\ndata: an empty id resets it\n\n"
    ).encode()
    expected = [
        {"event": "text.delta", "data": payload, "id": "1"},
        {"event": "turn.completed", "data": '{"a": 1}', "id": "12"},
        {"event": "message", "data": "line one\nline two", "id": "12"},  # the id stays
        {"event": "message", "data": "an id with NUL is ignored", "id": "12"},
        {"event": "message", "data": "an empty id resets it", "id": ""},
    ]
    # Every two-chunk split, in one page call per batch to stay fast.
    splits = every_split(stream)
    results = page.evaluate(
        f"async (all) => Promise.all(all.map(chunks => ({READ_ALL})([chunks])))",
        [[list(part) for part in chunks] for chunks in splits],
    )
    for chunks, events in zip(splits, results, strict=True):
        assert events == expected, chunks
    assert json.loads(results[0][0]["data"]) == {"text": separator}


def test_an_id_without_data_is_kept_for_the_next_event(page: Page) -> None:
    stream = b"id: 7\n\n: ping\n\nevent: text.delta\ndata: x\n\nid: 8\nevent: a\n\ndata: y\n\n"
    assert read_events(page, [stream]) == [
        {"event": "text.delta", "data": "x", "id": "7"},
        {"event": "message", "data": "y", "id": "8"},  # a frame without data dispatches nothing
    ]


def test_byte_by_byte_and_unterminated_last_frame(page: Page) -> None:
    stream = b'event: a\ndata: {"x":1}\n\nevent: b\ndata: 2'
    events = read_events(page, [stream[i : i + 1] for i in range(len(stream))])
    # A frame without its blank line is not dispatched (the spec drops it).
    assert events == [{"event": "a", "data": '{"x":1}', "id": ""}]
