"""The bots this server offers (:func:`botport.demo.offered_bots`: configured ones, or in demo mode
the emulator's), by slug and by Coze bot id."""

from __future__ import annotations

from collections.abc import Iterator

from botport.errors import NotFoundError
from botport.settings import BotConfig


class BotRegistry:
    def __init__(self, bots: list[BotConfig]) -> None:
        if not bots:
            raise ValueError("no bot configured: set BOTPORT_BOT_ID (one bot) or [[bots]] in the config file")
        self._by_slug = {bot.slug: bot for bot in bots}
        self._by_bot_id = {bot.bot_id: bot for bot in bots}

    def __iter__(self) -> Iterator[BotConfig]:
        return iter(self._by_slug.values())

    @property
    def default(self) -> BotConfig:
        return next(iter(self._by_slug.values()))

    def get(self, slug: str | None) -> BotConfig:
        if slug is None:
            return self.default
        bot = self._by_slug.get(slug)
        if bot is None:
            known = ", ".join(self._by_slug)
            raise NotFoundError(f"unknown bot {slug!r}; this server offers: {known}", code="unknown_bot")
        return bot

    def by_coze_id(self, bot_id: str) -> BotConfig | None:
        return self._by_bot_id.get(bot_id)
