"""Bot lists: ``GET /v1/space/published_bots_list`` (v1) and ``GET /v1/bots`` (v2).

Any space (workspace) id is accepted: every space holds the emulator's bots, all published to the
API channel, in the order they were configured. Paging is by page number: v1 takes ``page_index``;
v2 takes ``page_index`` (cozepy) or ``page_num`` (coze-js). Both answer ``total`` (the SDKs page on
it); v1 answers ``space_bots`` ``{bot_id, bot_name, description, icon_url, publish_time}``
(``publish_time`` a string, as Coze sends it), v2 answers ``items`` ``{id, name, description,
icon_url, is_published, updated_at, published_at, owner_user_id}``. v2's ``publish_status``
``unpublished_draft`` lists nothing (every bot here is published); ``connector_id`` is accepted and
not used (the bots are on every channel).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.bot_routes import CREATED
from botport.emulator.bots import EmulatedBot
from botport.emulator.context import Emulator
from botport.emulator.envelope import ok
from botport.emulator.inputs import bad
from botport.emulator.paging import int_query, page

MAX_PAGE_SIZE = 100  # the emulator's bound (Coze's is not documented)
PUBLISH_STATUSES = ("all", "published_online", "published_draft", "unpublished_draft")


def _v1_item(bot: EmulatedBot) -> dict[str, object]:
    return {
        "bot_id": bot.id,
        "bot_name": bot.name,
        "description": bot.description,
        "icon_url": "",
        "publish_time": str(CREATED),
    }


def _v2_item(bot: EmulatedBot) -> dict[str, object]:
    return {
        "id": bot.id,
        "name": bot.name,
        "description": bot.description,
        "icon_url": "",
        "is_published": True,
        "updated_at": CREATED,
        "published_at": CREATED,
        "owner_user_id": "",
    }


class BotListRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [
            Route("/v1/space/published_bots_list", self.list_v1, methods=["GET"]),
            Route("/v1/bots", self.list_v2, methods=["GET"]),
        ]

    def _page(self, request: Request, bots: list[EmulatedBot]) -> list[EmulatedBot]:
        page_num = int_query(request, ("page_index", "page_num"), 1, 1, 100_000)
        page_size = int_query(request, ("page_size",), 20, 1, MAX_PAGE_SIZE)
        return page(bots, page_num, page_size)[0]

    async def list_v1(self, request: Request) -> Response:
        self.emulator.account(request)
        if not request.query_params.get("space_id"):
            raise bad("space_id is required")
        bots = list(self.emulator.bots.values())
        return ok({"space_bots": [_v1_item(b) for b in self._page(request, bots)], "total": len(bots)})

    async def list_v2(self, request: Request) -> Response:
        self.emulator.account(request)
        status = request.query_params.get("publish_status") or "published_online"
        if status not in PUBLISH_STATUSES:
            raise bad(f"publish_status must be one of {', '.join(PUBLISH_STATUSES)}")
        bots = [] if status == "unpublished_draft" else list(self.emulator.bots.values())
        return ok({"items": [_v2_item(b) for b in self._page(request, bots)], "total": len(bots)})
