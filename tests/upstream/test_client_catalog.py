"""CozeClient's calls about the token, its workspaces and bots (botport.upstream.catalog), and the
one-question probe (botport.upstream.probe): against the emulator in process, and over
httpx.MockTransport for what the emulator does not do (a token without a permission, nulls, paging)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from coze_fakes import LOGID, envelope_response, make_client
from pydantic import SecretStr

from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID, DEMO_BOTS, TOOL_BOT_ID
from botport.emulator.workspace_routes import WORKSPACE_ID
from botport.errors import BotNotPublishedError, CozeAuthError
from botport.upstream.client import CozeClient
from botport.upstream.models import PublishStatus
from botport.upstream.probe import ask

TOKEN = "demo-token"
FAST = {"X-Emulator-Fault": "delta_delay=0"}

MakeClient = Callable[..., CozeClient]


@pytest.fixture
async def emulated() -> AsyncIterator[MakeClient]:
    """``emulated(token=...)``: a client of one in-process emulator (one per test)."""
    app = create_emulator_app(tokens=[TOKEN])
    https: list[httpx.AsyncClient] = []

    def make(token: str = TOKEN) -> CozeClient:
        http = httpx.AsyncClient(transport=StreamingASGITransport(app), headers=FAST)
        https.append(http)
        return CozeClient(base_url="http://emulator.local", token=SecretStr(token), http=http)

    async with app.router.lifespan_context(app):
        yield make
        for http in https:
            await http.aclose()


async def test_check_token(emulated: MakeClient) -> None:
    assert await emulated().check_token(DEMO_BOT_ID)  # the log id of the answer
    assert await emulated().check_token()  # no bot configured yet: still a check
    with pytest.raises(CozeAuthError) as info:
        await emulated(token="pat_expired").check_token(DEMO_BOT_ID)
    assert info.value.upstream_code == 4100 and info.value.http_status == 401 and info.value.logid


async def test_workspaces_and_their_bots(emulated: MakeClient) -> None:
    coze = emulated()
    (space,) = await coze.list_workspaces()
    assert space.id == WORKSPACE_ID and space.name == "Personal"
    assert space.role_type == "owner" and space.workspace_type == "personal"
    bots = await coze.list_bots(space.id)
    assert [(b.id, b.name) for b in bots] == [(b.id, b.name) for b in DEMO_BOTS]
    assert all(b.is_published and b.published_at for b in bots)
    paged = await coze.list_bots(space.id, page_size=1)  # one request per bot
    assert [b.id for b in paged] == [b.id for b in DEMO_BOTS]
    assert [b.id for b in await coze.list_bots(space.id, page_size=1, limit=2)] == [DEMO_BOT_ID, TOOL_BOT_ID]
    assert await coze.list_bots(space.id, publish_status=PublishStatus.UNPUBLISHED_DRAFT) == []


async def test_bot_info(emulated: MakeClient) -> None:
    coze = emulated()
    info = await coze.bot_info(DEMO_BOT_ID)
    assert info.bot_id == DEMO_BOT_ID and info.name == "Demo" and info.version
    with pytest.raises(BotNotPublishedError) as info_error:
        await coze.bot_info("7999")
    assert info_error.value.upstream_code == 4015 and info_error.value.logid


async def test_ask_gathers_the_answer_or_the_tool_call(emulated: MakeClient) -> None:
    coze = emulated()
    reply = await ask(coze, bot_id=DEMO_BOT_ID, user_id="doctor", question="Reply with one word: OK.")
    assert "Reply with one word: OK." in reply.text and not reply.tool_call
    weather = await ask(coze, bot_id=TOOL_BOT_ID, user_id="doctor", question="Weather in Paris?")
    assert weather.tool_call


# --- over MockTransport ----------------------------------------------------------------------------


async def test_a_token_without_the_permission() -> None:
    refused = envelope_response(code=4101, msg="The token lacks the permission listWorkspace")
    async with make_client(lambda request: refused) as coze:
        with pytest.raises(CozeAuthError) as info:
            await coze.list_workspaces()
    assert info.value.upstream_code == 4101 and info.value.logid == LOGID


async def test_bots_list_requests_pages_and_reads_nulls() -> None:
    seen: list[httpx.Request] = []

    def bot(n: int) -> dict[str, object]:
        # An unpublished bot: Coze sends null for what it does not have; unknown fields are ignored.
        return {"id": f"74{n}", "name": f"bot {n}", "is_published": False, "published_at": None,
                "folder_id": None, "icon_url": None, "new_field": {"x": 1}}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params["page_num"])
        items = [bot(n) for n in range(1, 4)][(page - 1) * 2 : page * 2]
        return envelope_response({"items": items, "total": 3})

    async with make_client(handler) as coze:
        bots = await coze.list_bots("ws-1", page_size=2)
    assert [b.id for b in bots] == ["741", "742", "743"]
    assert bots[0].published_at is None and bots[0].icon_url == "" and not bots[0].is_published
    assert [r.url.path for r in seen] == ["/v1/bots", "/v1/bots"]  # stopped at the total
    assert dict(seen[0].url.params) == {
        "workspace_id": "ws-1",
        "publish_status": "all",
        "page_num": "1",
        "page_size": "2",
    }


async def test_workspaces_list_pages_until_the_total() -> None:
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page_num"])
        seen.append(page)
        spaces = [{"id": f"ws-{page}", "name": None, "enterprise_id": None}]
        return envelope_response({"workspaces": spaces, "total_count": 2})

    async with make_client(handler) as coze:
        spaces = await coze.list_workspaces(page_size=1)
    assert [s.id for s in spaces] == ["ws-1", "ws-2"] and spaces[0].name == ""
    assert seen == [1, 2]
