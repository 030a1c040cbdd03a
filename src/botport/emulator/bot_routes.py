"""Bot info: ``GET /v1/bot/get_online_info?bot_id=`` and ``GET /v1/bots/{bot_id}``.

Coze answers the first only for a bot published to the "Agent as API" channel; ``botport doctor``
uses it to tell whether a bot is. The emulator's bots all count as published; an id it does not
serve gets 4015 (not published), which is what Coze says for a bot the token cannot use by API.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.bots import EmulatedBot
from botport.emulator.context import Emulator
from botport.emulator.envelope import EmulatorError, ok
from botport.emulator.inputs import param

NOT_PUBLISHED = 4015
CREATED = 1_700_000_000  # a fixed time: the demo bots never change


def bot_info(bot: EmulatedBot) -> dict[str, object]:
    return {
        "bot_id": bot.id,
        "name": bot.name,
        "description": bot.description,
        "icon_url": "",
        "create_time": CREATED,
        "update_time": CREATED,
        "version": "1",
        "bot_mode": 0,
        "onboarding_info": {"prologue": bot.greeting, "suggested_questions": []},
    }


class BotRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [
            Route("/v1/bot/get_online_info", self.online_info, methods=["GET"]),
            Route("/v1/bots/{bot_id}", self.retrieve, methods=["GET"]),
        ]

    def _published(self, request: Request, bot_id: str) -> EmulatedBot:
        self.emulator.account(request)
        bot = self.emulator.bots.get(bot_id)
        if bot is None:
            raise EmulatorError(NOT_PUBLISHED, f"bot {bot_id!r} is not published as an API service")
        return bot

    async def online_info(self, request: Request) -> Response:
        return ok(bot_info(self._published(request, param(request, {}, "bot_id"))))

    async def retrieve(self, request: Request) -> Response:
        return ok(bot_info(self._published(request, request.path_params["bot_id"])))
