"""The emulator's polling limit on ``/v3/chat/retrieve`` (about one retrieve of a chat a second, a burst
of two): the tutorial's tight loop fails, cozepy's 1 s poller passes, coze-js's 100 ms poller fails on
its third retrieve. A counting wrapper around the app records every retrieve and its HTTP status."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest
from cozepy import (
    AsyncCoze,
    AsyncHTTPClient,
    AsyncTokenAuth,
    ChatStatus,
    Coze,
    CozeAPIError,
    Message,
    MessageType,
    SyncHTTPClient,
    TokenAuth,
)
from emulator_helpers import AUTH, TOKEN, RunningEmulator, chat_body, fast_bots, serve
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as ASGIMessage

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.emulator.envelope import EmulatorError
from botport.emulator.poll_limit import BURST, RATE_LIMITED, PollLimiter
from coze_js_helpers import needs_coze_js, run_coze_js

RETRIEVE = "/v3/chat/retrieve"
SLOW_START = 2.2  # seconds before a chat's first event: a 1 s poller retrieves it 3 times

pytestmark = pytest.mark.live


class RetrieveCounter:
    """ASGI wrapper: the status of every retrieve, in order."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.statuses: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != RETRIEVE:
            await self.app(scope, receive, send)
            return

        async def counting_send(message: ASGIMessage) -> None:
            if message["type"] == "http.response.start":
                self.statuses.append(message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)

    def since(self, mark: int) -> list[int]:
        return self.statuses[mark:]


class Server:
    def __init__(self, running: RunningEmulator, counter: RetrieveCounter) -> None:
        self.base_url = running.base_url
        self.counter = counter


def _server(*, poll_limit: bool) -> Iterator[Server]:
    app = create_emulator_app([TOKEN], bots=fast_bots(), poll_limit=poll_limit)
    counter = RetrieveCounter(app)
    with serve(app, asgi=counter) as running:
        yield Server(running, counter)


@pytest.fixture(scope="module")
def limited() -> Iterator[Server]:
    yield from _server(poll_limit=True)


@pytest.fixture(scope="module")
def unlimited() -> Iterator[Server]:
    yield from _server(poll_limit=False)


def _slow(seconds: float = SLOW_START) -> dict[str, str]:
    return {"X-Emulator-Fault": f"first_delay={seconds}"}


def _slow_chats(request: httpx.Request) -> None:
    """An httpx hook: every chat it starts waits before its first event (cozepy's calls take no headers,
    and its client sends prepared requests, which a client's default headers do not reach)."""
    if request.url.path == "/v3/chat":
        request.headers.update(_slow())


async def _slow_chats_async(request: httpx.Request) -> None:
    _slow_chats(request)


def _ask(text: str) -> list[Message]:
    return [Message.build_user_question_text(text)]


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


# --- the rule ------------------------------------------------------------------------------------


def test_the_bucket_rule() -> None:
    now = [100.0]
    limiter = PollLimiter(clock=lambda: now[0])
    for _ in range(BURST):
        limiter.check("chat-1")
    with pytest.raises(EmulatorError) as info:
        limiter.check("chat-1")
    assert (info.value.code, info.value.http_status) == (RATE_LIMITED, 429) == (4013, 429)
    assert "rate limit" in info.value.msg and "once a second" in info.value.msg
    limiter.check("chat-2")  # chats are counted apart
    now[0] += 0.5
    with pytest.raises(EmulatorError):
        limiter.check("chat-1")  # a refused retrieve does not count
    now[0] += 0.5
    limiter.check("chat-1")
    for _ in range(10):  # once a second, for ever
        now[0] += 1.0
        limiter.check("chat-1")


def test_over_the_limit_answers_coze_rate_limit_envelope(limited: Server) -> None:
    with httpx.Client(base_url=limited.base_url, headers=AUTH, timeout=30) as http:
        chat = http.post("/v3/chat", headers=_slow(), json=chat_body(DEMO_BOT_ID, "hi", stream=False))
        ids = {
            "conversation_id": chat.json()["data"]["conversation_id"],
            "chat_id": chat.json()["data"]["id"],
        }
        # GET (the docs) and POST (the SDKs) count against the same chat.
        first, second, third = (
            http.get(RETRIEVE, params=ids),
            http.post(RETRIEVE, params=ids),
            http.get(RETRIEVE, params=ids),
        )
    assert [first.status_code, second.status_code] == [200, 200]
    assert first.json()["data"]["status"] == "in_progress"
    assert third.status_code == 429 and third.headers["content-type"].startswith("application/json")
    body = third.json()
    assert body["code"] == 4013 and "rate limit" in body["msg"]
    assert body["detail"]["logid"] == third.headers["x-tt-logid"]


# --- cozepy ----------------------------------------------------------------------------------------


@pytest.fixture
def coze(limited: Server) -> Iterator[Coze]:
    client = Coze(
        auth=TokenAuth(TOKEN),
        base_url=limited.base_url,
        http_client=SyncHTTPClient(timeout=30, event_hooks={"request": [_slow_chats]}),
    )
    yield client
    client._requester.sync_client.close()


def test_a_tight_loop_poller_is_refused(coze: Coze, limited: Server) -> None:
    """The tutorial's bug: retrieve again and again without a sleep."""
    chat = coze.chat.create(bot_id=DEMO_BOT_ID, user_id=_user(), additional_messages=_ask("hi"))
    mark = len(limited.counter.statuses)
    polls = 0
    with pytest.raises(CozeAPIError) as info:
        while chat.status == ChatStatus.IN_PROGRESS:
            chat = coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)
            polls += 1
    assert info.value.code == 4013 and info.value.logid
    assert polls == BURST and limited.counter.since(mark) == [200, 200, 429]


def test_cozepy_create_and_poll_keeps_to_the_limit(coze: Coze, limited: Server) -> None:
    mark = len(limited.counter.statuses)
    poll = coze.chat.create_and_poll(bot_id=DEMO_BOT_ID, user_id=_user(), additional_messages=_ask("hi"))
    assert poll.chat.status == ChatStatus.COMPLETED
    assert poll.messages and any(m.type == MessageType.ANSWER for m in poll.messages)
    statuses = limited.counter.since(mark)
    assert len(statuses) > BURST and set(statuses) == {200}  # more retrieves than the burst, none refused


async def test_async_pollers(limited: Server) -> None:
    http_client = AsyncHTTPClient(timeout=30, event_hooks={"request": [_slow_chats_async]})
    coze = AsyncCoze(auth=AsyncTokenAuth(TOKEN), base_url=limited.base_url, http_client=http_client)
    try:
        polite = await coze.chat.create(bot_id=DEMO_BOT_ID, user_id=_user(), additional_messages=_ask("a"))
        hasty = await coze.chat.create(bot_id=DEMO_BOT_ID, user_id=_user(), additional_messages=_ask("b"))
        mark = len(limited.counter.statuses)

        async def poll_politely() -> ChatStatus:
            chat = polite
            for _ in range(10):
                await asyncio.sleep(1)
                chat = await coze.chat.retrieve(conversation_id=chat.conversation_id, chat_id=chat.id)
                if chat.status != ChatStatus.IN_PROGRESS:
                    break
            return chat.status

        async def poll_hastily() -> int | None:
            try:
                while True:
                    await coze.chat.retrieve(conversation_id=hasty.conversation_id, chat_id=hasty.id)
            except CozeAPIError as exc:
                return exc.code

        status, code = await asyncio.gather(poll_politely(), poll_hastily())
    finally:
        await http_client.aclose()
    assert status == ChatStatus.COMPLETED and code == 4013
    statuses = limited.counter.since(mark)
    assert statuses.count(429) == 1 and statuses.count(200) >= BURST + 3  # 2 hasty + 3 polite


# --- coze-js ---------------------------------------------------------------------------------------

CREATE_AND_POLL = """
const started = Date.now();
try {
  const { chat } = await coze.chat.createAndPoll(
    {
      bot_id: '%s',
      additional_messages: [{ role: 'user', content: 'hi', content_type: 'text', type: 'question' }],
    },
    { headers: { 'X-Emulator-Fault': 'first_delay=%s' } },
  );
  return { status: chat.status, seconds: (Date.now() - started) / 1000 };
} catch (e) {
  const seconds = (Date.now() - started) / 1000;
  return { error: e.name, code: e.code ?? null, http: e.status ?? null, seconds };
}
"""


def _create_and_poll(first_delay: float) -> str:
    """A coze-js snippet: ``createAndPoll`` of a chat that waits ``first_delay`` s before its first event."""
    return CREATE_AND_POLL % (DEMO_BOT_ID, first_delay)


@needs_coze_js
def test_coze_js_create_and_poll_is_refused_on_its_third_retrieve(limited: Server) -> None:
    """coze-js polls every 100 ms and does not retry: a chat that runs longer than ~0.3 s fails it."""
    mark = len(limited.counter.statuses)
    result = run_coze_js(_create_and_poll(SLOW_START), base_url=limited.base_url, token=TOKEN)
    assert result["error"] == "RateLimitError" and result["code"] == 4013 and result["http"] == 429
    assert limited.counter.since(mark) == [200, 200, 429]
    assert result["seconds"] < 1.5


@needs_coze_js
def test_coze_js_create_and_poll_of_a_quick_chat_passes(limited: Server) -> None:
    """A chat done before coze-js's first poll (100 ms) needs one retrieve."""
    mark = len(limited.counter.statuses)
    result = run_coze_js(_create_and_poll(0), base_url=limited.base_url, token=TOKEN)
    assert result.get("status") == "completed", result
    assert limited.counter.since(mark) == [200]


@needs_coze_js
def test_coze_js_create_and_poll_without_the_limit(unlimited: Server) -> None:
    """With the limit off (``poll_limit=False``) it polls about ten times a second until the chat ends."""
    mark = len(unlimited.counter.statuses)
    result = run_coze_js(_create_and_poll(1.0), base_url=unlimited.base_url, token=TOKEN)
    assert result.get("status") == "completed", result
    statuses = unlimited.counter.since(mark)
    assert set(statuses) == {200} and len(statuses) >= 5  # about 10 for a 1 s chat
