"""Demo mode: no Coze token is set, so the built-in emulator stands in for Coze, in this process, and
its demo bots are the bots served.

:mod:`botport.emulator` is a separate fake Coze (it never imports botport's upstream client); this is
the one place the app reaches into it, and only in demo mode, so it is imported only then.
"""

from __future__ import annotations

import secrets
from contextlib import AsyncExitStack

import httpx
from pydantic import SecretStr

from botport.asgi_transport import StreamingASGITransport
from botport.settings import BotConfig, Settings
from botport.upstream.client import CozeClient

EMULATOR_URL = "http://emulator.invalid"  # never resolved: the transport answers in process


def demo_bots() -> list[BotConfig]:
    """The emulator's demo bots, under the slugs the page and the docs use."""
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


class TokenNeeded(ValueError):
    """Bots are configured but no token is set: the emulator cannot answer for them, so botport
    refuses to start (``serve`` and ``chat`` exit 2) rather than fail every message.
    ``problem`` and ``fix`` are the two halves of the message (``botport doctor`` shows them apart)."""

    def __init__(self, bots: list[BotConfig]) -> None:
        named = ", ".join(f"{bot.slug} ({bot.bot_id})" for bot in bots)
        self.problem = (
            "no Coze token is set (BOTPORT_COZE_TOKEN), and demo mode's emulator only knows its demo bots"
        )
        self.fix = (
            f"set the token for the configured bot{'s' if len(bots) > 1 else ''} {named}, "
            f"or remove {'them' if len(bots) > 1 else 'it'} to try the demo"
        )
        super().__init__(f"{self.problem}: {self.fix}")


def offered_bots(settings: Settings) -> list[BotConfig]:
    """The configured bots (``BOTPORT_BOT_ID`` and ``[[bots]]``); in demo mode without any, the
    emulator's. Demo mode with configured bots the emulator does not serve raises
    :class:`TokenNeeded`: they need Coze, which needs the token."""
    configured = settings.all_bots()
    if not settings.demo_mode:
        return configured
    if not configured:  # BOTPORT_EMBED_ORIGINS lets a site embed the demo bots (docs/embed.md)
        return [bot.model_copy(update={"embed_origins": settings.embed_origins}) for bot in demo_bots()]
    from botport.emulator.bots import DEMO_BOTS

    emulated = {bot.id for bot in DEMO_BOTS}
    foreign = [bot for bot in configured if bot.bot_id not in emulated]
    if foreign:
        raise TokenNeeded(foreign)
    return configured


async def emulated_coze(
    settings: Settings, transport: httpx.AsyncBaseTransport | None, stack: AsyncExitStack
) -> CozeClient:
    """A client of the emulator, started on ``stack`` (its lifespan ends chats still running at
    shutdown). ``transport`` replaces the in-process one (tests)."""
    from botport.emulator.app import create_emulator_app

    token = secrets.token_urlsafe(24)  # private to this process: only our client talks to it
    emulator = create_emulator_app(tokens=[token])
    await stack.enter_async_context(emulator.router.lifespan_context(emulator))
    return CozeClient(
        base_url=EMULATOR_URL,
        token=SecretStr(token),
        transport=transport or StreamingASGITransport(emulator),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )
