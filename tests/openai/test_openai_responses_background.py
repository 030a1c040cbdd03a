"""Responses that outlive their request: ``background: true``, a stream resumed with
``starting_after`` (also after the turn's live log is gone), cancel, and a client that goes away."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from openai_helpers import Server

from botport.emulator.faults import Faults
from conftest import token_server

pytestmark = pytest.mark.live

PACE = 0.03  # seconds between two deltas: a demo answer takes ~3 s, time to act while it streams


def _paced(tmp_path: Path, live_server: Callable[..., Any], **settings: Any) -> Server:
    return token_server(tmp_path, live_server, Faults(delta_delay=PACE), **settings)


@pytest.fixture
def paced_server(tmp_path: Path, live_server: Callable[..., Any]) -> Server:
    return _paced(tmp_path, live_server)


def _wait_until_done(client: openai.OpenAI, response_id: str) -> Any:
    for _ in range(200):
        response = client.responses.retrieve(response_id)
        if response.status not in ("queued", "in_progress"):
            return response
        time.sleep(0.05)
    raise AssertionError(f"{response_id} did not finish")


def test_background_returns_at_once_and_runs_to_its_end(paced_server: Server) -> None:
    client = paced_server.client()
    started = client.responses.create(model="demo", input="Take your time", background=True)
    assert started.status == "in_progress" and started.background is True
    assert started.output == []  # nothing written yet
    done = _wait_until_done(client, started.id)
    assert done.status == "completed" and "**Turn 1.**" in done.output_text
    assert done.usage is not None and done.usage.total_tokens > 0


def _read_some(stream: Any, at_least: int) -> tuple[list[Any], int]:
    events = []
    for event in stream:
        events.append(event)
        if event.type == "response.output_text.delta" and event.sequence_number >= at_least:
            break
    return events, events[-1].sequence_number


def _text(events: list[Any]) -> str:
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def test_background_stream_resumes_after_the_last_event_seen(paced_server: Server) -> None:
    client = paced_server.client()
    stream = client.responses.create(model="demo", input="Resume me", background=True, stream=True)
    first, last = _read_some(stream, at_least=20)
    stream.close()  # the client goes away mid-answer: a background response goes on
    response_id = first[0].response.id
    resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=last))
    assert resumed[0].sequence_number == last + 1
    numbers = [e.sequence_number for e in first + resumed]
    assert numbers == list(range(len(numbers)))  # nothing lost, nothing twice
    assert resumed[-1].type == "response.completed"
    final = client.responses.retrieve(response_id)
    assert final.status == "completed"
    assert _text(first) + _text(resumed) == final.output_text
    # From the start, the same events with the same numbers.
    replay = list(client.responses.retrieve(response_id, stream=True))
    assert [(e.type, e.sequence_number) for e in replay] == [
        (e.type, e.sequence_number) for e in first + resumed
    ]


def test_resume_after_the_live_log_is_gone_gets_the_end(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    server = _paced(tmp_path, live_server, turn_log_retention=0)
    client = server.client()
    stream = client.responses.create(model="demo", input="Then forget", background=True, stream=True)
    first, last = _read_some(stream, at_least=20)
    stream.close()
    response_id = first[0].response.id
    final = _wait_until_done(client, response_id)
    resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=last))
    assert resumed and resumed[-1].type == "response.completed"
    assert all(e.sequence_number > last for e in resumed)
    assert resumed[-1].response.output_text == final.output_text  # the whole answer, from the store


def test_cancel_stops_a_background_response(paced_server: Server) -> None:
    client, recorder = paced_server.client(), paced_server.recorder
    assert recorder is not None
    stream = client.responses.create(model="demo", input="Cancel me", background=True, stream=True)
    first, _ = _read_some(stream, at_least=10)
    stream.close()
    response_id = first[0].response.id
    cancelled = client.responses.cancel(response_id)
    assert cancelled.status == "cancelled"
    assert 0 < len(cancelled.output_text) < 200  # the partial answer stays
    assert client.responses.retrieve(response_id).status == "cancelled"
    assert [c for c in recorder.calls if c.path == "/v3/chat/cancel"]  # the Coze chat was cancelled
    # Cancelling again changes nothing.
    assert client.responses.cancel(response_id).status == "cancelled"
    with paced_server.api() as api:
        conversation = api.get("/api/conversations").json()["items"][0]["id"]
        stored = api.get(f"/api/conversations/{conversation}/messages").json()["items"]
    assert stored[-1]["status"] == "interrupted"


def test_a_streaming_client_that_goes_away_stops_its_response(paced_server: Server) -> None:
    client, recorder = paced_server.client(), paced_server.recorder
    assert recorder is not None
    stream = client.responses.create(model="demo", input="Leave early", stream=True)
    first, _ = _read_some(stream, at_least=10)
    stream.close()
    final = _wait_until_done(client, first[0].response.id)
    assert final.status == "cancelled"
    for _ in range(100):
        if [c for c in recorder.calls if c.path == "/v3/chat/cancel"]:
            break
        time.sleep(0.05)
    assert [c for c in recorder.calls if c.path == "/v3/chat/cancel"]


def test_a_new_response_waits_for_the_previous_one(paced_server: Server) -> None:
    client = paced_server.client()
    started = client.responses.create(model="demo", input="First", background=True)
    with pytest.raises(openai.ConflictError) as caught:
        client.responses.create(model="demo", input="Too soon", previous_response_id=started.id)
    assert caught.value.code == "previous_response_in_progress"
    _wait_until_done(client, started.id)
    after = client.responses.create(model="demo", input="Now", previous_response_id=started.id)
    assert "**Turn 2.**" in after.output_text
