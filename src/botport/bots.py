"""The bots this server offers: configured ones, or the emulator's demo bots in demo mode."""

from __future__ import annotations

from collections.abc import Iterator

from botport.errors import NotFoundError
from botport.settings import BotConfig, Settings


def demo_bots() -> list[BotConfig]:
    from botport.emulator import bots as emulated

    slugs = {
        emulated.DEMO_BOT_ID: "demo",
        emulated.TOOL_BOT_ID: "weather",
        emulated.SLOW_BOT_ID: "slow",
        emulated.FAILING_BOT_ID: "failing",
    }
    return [
        BotConfig(
            slug=slugs[bot.id],
            bot_id=bot.id,
            name=bot.name,
            description=bot.description,
            greeting=bot.greeting,
        )
        for bot in emulated.DEMO_BOTS
        if bot.id in slugs
    ]


class BotRegistry:
    def __init__(self, bots: list[BotConfig]) -> None:
        if not bots:
            raise ValueError("no bot configured: set BOTPORT_BOT_ID (one bot) or [[bots]] in the config file")
        self._by_slug = {bot.slug: bot for bot in bots}
        self._by_bot_id = {bot.bot_id: bot for bot in bots}

    @classmethod
    def from_settings(cls, settings: Settings) -> BotRegistry:
        return cls(demo_bots() if settings.demo_mode and not settings.bots else settings.all_bots())

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
