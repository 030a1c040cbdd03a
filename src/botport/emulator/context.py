"""What every route needs: the store, the token check and the bots."""

from __future__ import annotations

from dataclasses import dataclass, replace

from starlette.requests import Request

from botport.emulator.auth import TokenChecker
from botport.emulator.bots import EmulatedBot
from botport.emulator.envelope import BAD_REQUEST, EmulatorError
from botport.emulator.faults import Faults
from botport.emulator.plan import TurnPlan
from botport.emulator.poll_limit import PollLimiter
from botport.emulator.state import Store


@dataclass(slots=True)
class Emulator:
    store: Store
    tokens: TokenChecker
    bots: dict[str, EmulatedBot]
    # A careless upstream: every error message carries the caller's Authorization header back.
    echo_authorization: bool = False
    # Coze's "poll a chat at most about once a second" on /v3/chat/retrieve; None: no limit.
    poll_limiter: PollLimiter | None = None

    def echo(self, request: Request) -> str:
        """What this emulator adds to an error message for ``request`` ("" unless it echoes)."""
        if not self.echo_authorization:
            return ""
        return f" (request Authorization: {request.headers.get('authorization', '')})"

    def account(self, request: Request) -> str:
        return self.tokens.account_for(request)

    def bot(self, bot_id: object) -> EmulatedBot:
        if not isinstance(bot_id, str) or not bot_id:
            raise EmulatorError(BAD_REQUEST, "bot_id is required")
        bot = self.bots.get(bot_id)
        if bot is None:
            known = ", ".join(f"{b.id} ({b.name})" for b in self.bots.values())
            raise EmulatorError(
                BAD_REQUEST, f"bot_id {bot_id!r} is not a bot of this emulator; known bots: {known}"
            )
        return bot


def effective_faults(bot: EmulatedBot, plan: TurnPlan, overrides: dict[str, float | int]) -> Faults:
    """The bot's knobs, then the script's own pace, then the request header (which wins)."""
    faults = bot.faults
    if plan.delta_delay is not None:
        faults = replace(faults, delta_delay=plan.delta_delay)
    return faults.with_overrides(overrides)
