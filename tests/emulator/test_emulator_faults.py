"""The emulator's wire details and fault knobs, observed with plain httpx on a real uvicorn server."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import httpx
import pytest
from emulator_helpers import AUTH, FAST, answer_of, chat_body, event_names, parse_sse, stream_chat

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID, DEMO_BOTS, FAILING_BOT_ID, SLOW_BOT_ID, TOOL_BOT_ID
from botport.emulator.faults import Faults

pytestmark = pytest.mark.live

DELTA = "conversation.message.delta"


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _fault(value: str) -> dict[str, str]:
    return {"X-Emulator-Fault": value}


def test_frames_are_coze_shaped_bytes(http: httpx.Client) -> None:
    question = "星期三 <b>bold</b>\u2028line"
    response = stream_chat(http, DEMO_BOT_ID, question, user_id=_user())
    assert response.headers["content-type"].startswith("text/event-stream")
    body = response.content
    assert body.startswith(b"event:conversation.chat.created\ndata:{")
    assert b"event: " not in body and b"data: " not in body
    assert "星期三".encode() in body  # raw UTF-8, like Coze
    assert "\u2028".encode() not in body and b"\\u2028" in body  # escaped: line splitters stay safe
    assert body.endswith(b'event:done\ndata:"[DONE]"\n\n')
    assert question in answer_of(body)["content"]


def test_every_response_has_its_own_logid(http: httpx.Client) -> None:
    ok = http.get("/v1/conversations", headers=AUTH)
    missing = http.get("/v1/no/such/path", headers=AUTH)
    denied = http.get("/v1/conversations")
    logids = {r.headers["x-tt-logid"] for r in (ok, missing, denied)}
    assert len(logids) == 3
    assert missing.json()["code"] == 4000 and missing.status_code == 404
    assert denied.status_code == 401 and denied.json()["code"] == 4100
    assert denied.json()["detail"]["logid"] == denied.headers["x-tt-logid"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"bot_id": "7000000000000000001"}', "user_id"),
        (b'{"user_id": "u", "bot_id": "42", "additional_messages": []}', "bot_id"),
        (
            b'{"user_id": "u", "bot_id": "7000000000000000001", "additional_messages": '
            b'[{"role": "assistant", "content": "hi", "content_type": "text"}]}',
            "must end with the user's question",
        ),
        (
            b'{"user_id": "u", "bot_id": "7000000000000000001", "stream": false, "auto_save_history": false,'
            b' "additional_messages": [{"role": "user", "content": "hi", "content_type": "text"}]}',
            "auto_save_history",
        ),
    ],
)
def test_bad_chat_requests_get_4000(http: httpx.Client, body: bytes, fragment: str) -> None:
    response = http.post("/v3/chat", headers={**AUTH, "content-type": "application/json"}, content=body)
    assert response.status_code == 200
    assert response.json()["code"] == 4000 and fragment in response.json()["msg"]


def test_first_delay(http: httpx.Client) -> None:
    started = time.monotonic()
    with http.stream(
        "POST",
        "/v3/chat",
        headers={**AUTH, **_fault("first_delay=0.5")},
        json=chat_body(DEMO_BOT_ID, "hi", user_id=_user()),
    ) as response:
        assert response.status_code == 200  # headers come at once
        first = next(response.iter_bytes())
        assert time.monotonic() - started >= 0.45
        assert first.startswith(b"event:conversation.chat.created")


def test_slow_bot_waits_before_its_first_event(http: httpx.Client) -> None:
    started = time.monotonic()
    response = stream_chat(http, SLOW_BOT_ID, "hi", user_id=_user(), headers=_fault("delta_delay=0"))
    assert time.monotonic() - started >= 0.9
    assert event_names(response.content)[-1] == "done"


def test_delta_delay(http: httpx.Client) -> None:
    started = time.monotonic()
    response = stream_chat(http, FAILING_BOT_ID, "hi", user_id=_user(), headers=_fault("delta_delay=0.15"))
    deltas = event_names(response.content).count(DELTA)
    assert deltas == 4
    assert time.monotonic() - started >= 0.15 * (deltas - 1) * 0.9


def test_http_status_fault_answers_like_a_proxy(http: httpx.Client) -> None:
    response = stream_chat(http, DEMO_BOT_ID, "hi", user_id=_user(), headers=_fault("http_status=503"))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html") and "503" in response.text
    assert response.headers["x-tt-logid"]
    other = http.get("/v1/conversations", headers={**AUTH, **_fault("http_status=502")})
    assert other.status_code == 502 and "<html>" in other.text


def test_cut_after_closes_the_connection_mid_stream(http: httpx.Client) -> None:
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream(
            "POST",
            "/v3/chat",
            headers={**AUTH, **_fault("cut_after=3; delta_delay=0")},
            json=chat_body(DEMO_BOT_ID, "hi", user_id=_user()),
        ) as response,
    ):
        for chunk in response.iter_bytes():
            received += chunk
    names = event_names(received)
    assert names.count(DELTA) == 3 and "done" not in names


def test_error_event_after(http: httpx.Client) -> None:
    response = stream_chat(http, DEMO_BOT_ID, "hi", user_id=_user(), headers=_fault("error_event_after=2"))
    events = parse_sse(response.content)
    names = [n for n, _ in events]
    assert names.count(DELTA) == 2 and names[-1] == "error" and "done" not in names
    error = events[-1][1]
    assert error["code"] == 5000 and error["msg"]  # type: ignore[index]
    chat = events[0][1]
    retrieved = http.get(
        "/v3/chat/retrieve",
        headers=AUTH,
        params={"conversation_id": chat["conversation_id"], "chat_id": chat["id"]},  # type: ignore[index]
    ).json()["data"]
    assert retrieved["status"] == "failed" and retrieved["last_error"]["code"] == 5000


def test_envelope_error_on_a_stream_request(http: httpx.Client) -> None:
    response = stream_chat(http, DEMO_BOT_ID, "hi", user_id=_user(), headers=_fault("envelope_error=4013"))
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == 4013 and body["detail"]["logid"] == response.headers["x-tt-logid"]


def test_malformed_fault_header_is_a_4000(http: httpx.Client) -> None:
    response = stream_chat(http, DEMO_BOT_ID, "hi", user_id=_user(), headers=_fault("explode=1"))
    assert response.json()["code"] == 4000 and "explode" in response.json()["msg"]


def test_demo_commands(http: httpx.Client) -> None:
    long = stream_chat(http, DEMO_BOT_ID, "/long please", user_id=_user(), headers=FAST)
    content = answer_of(long.content)["content"]
    assert "```python" in content and "|---|" in content and len(content.split()) >= 250
    failed = event_names(stream_chat(http, DEMO_BOT_ID, "/fail now", user_id=_user(), headers=FAST).content)
    assert failed[-2:] == ["conversation.chat.failed", "done"]


def test_chat_goes_on_after_the_client_disconnects(http: httpx.Client) -> None:
    with http.stream(
        "POST",
        "/v3/chat",
        headers={**AUTH, **_fault("delta_delay=0.01")},
        json=chat_body(DEMO_BOT_ID, "hi", user_id=_user()),
    ) as response:
        first = next(response.iter_bytes())
    chat = parse_sse(first)[0][1]
    ids = {"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}  # type: ignore[index]
    deadline = time.monotonic() + 20
    status = ""
    while time.monotonic() < deadline and status != "completed":
        status = http.get("/v3/chat/retrieve", headers=AUTH, params=ids).json()["data"]["status"]
        if status != "completed":
            time.sleep(1)  # once a second, as Coze asks (the emulator refuses faster polling)
    assert status == "completed"


def test_tool_outputs_must_answer_the_pending_call(http: httpx.Client) -> None:
    events = parse_sse(stream_chat(http, TOOL_BOT_ID, "weather in Rome", user_id=_user()).content)
    chat = events[-2][1]
    assert chat["status"] == "requires_action"  # type: ignore[index]
    params = {"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}  # type: ignore[index]
    wrong = http.post(
        "/v3/chat/submit_tool_outputs",
        headers=AUTH,
        params=params,
        json={"tool_outputs": [{"tool_call_id": "nope", "output": "x"}], "stream": False},
    )
    assert wrong.json()["code"] == 4000 and "nope" in wrong.json()["msg"]


async def test_bot_level_faults() -> None:
    bots = [replace(bot, faults=Faults(envelope_error=4015)) for bot in DEMO_BOTS]
    app = create_emulator_app(["t"], bots=bots)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
        response = await client.post(
            "/v3/chat", headers={"Authorization": "Bearer t"}, json=chat_body(DEMO_BOT_ID, "hi")
        )
    assert response.json()["code"] == 4015
