"""``create_emulator_app``: the emulator as an ASGI app (Starlette)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from botport.emulator.audio_routes import AudioRoutes
from botport.emulator.auth import TokenChecker
from botport.emulator.bot_list_routes import BotListRoutes
from botport.emulator.bot_routes import BotRoutes
from botport.emulator.bots import DEMO_BOTS, EmulatedBot
from botport.emulator.chat_routes import ChatRoutes
from botport.emulator.context import Emulator
from botport.emulator.conversation_edit_routes import ConversationEditRoutes
from botport.emulator.conversation_routes import ConversationRoutes
from botport.emulator.envelope import (
    BAD_REQUEST,
    EmulatorError,
    JSONResponse,
    error_body,
    error_response,
    logid_of,
)
from botport.emulator.feedback_routes import FeedbackRoutes
from botport.emulator.middleware import EmulatorMiddleware
from botport.emulator.oauth_routes import EmulatedOAuthApp, OAuthRoutes
from botport.emulator.poll_limit import PollLimiter
from botport.emulator.state import Store
from botport.emulator.workflow_routes import WorkflowRoutes
from botport.emulator.workspace_routes import WorkspaceRoutes


def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods still answer with an envelope."""
    assert isinstance(exc, HTTPException)
    msg = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(error_body(BAD_REQUEST, msg, logid_of(request)), status_code=exc.status_code)


def create_emulator_app(
    tokens: Iterable[str] = ("demo-token",),
    *,
    bots: Sequence[EmulatedBot] | None = None,
    echo_authorization: bool = False,
    poll_limit: bool = True,
    oauth_app: EmulatedOAuthApp | None = None,
) -> Starlette:
    """An emulator accepting ``tokens`` as Bearer tokens, serving ``bots`` (default: the demo bots).
    ``echo_authorization``: every error message (envelopes, ``error`` events, failed chats) carries
    the caller's Authorization header, as a careless upstream might: for testing redaction.
    ``poll_limit``: refuse a chat's retrieves beyond about one a second, as Coze does (4013, HTTP 429;
    :mod:`botport.emulator.poll_limit`); ``False`` for callers that poll fast on purpose.
    ``oauth_app``: a Coze OAuth service app whose JWTs the token endpoint exchanges for access tokens
    (:mod:`botport.emulator.oauth_routes`; ``app.state.oauth`` counts them)."""
    emulator = Emulator(
        store=Store(),
        tokens=TokenChecker(tokens, issues=oauth_app is not None),
        bots={bot.id: bot for bot in (DEMO_BOTS if bots is None else bots)},
        echo_authorization=echo_authorization,
        poll_limiter=PollLimiter() if poll_limit else None,
    )

    oauth = OAuthRoutes(emulator, oauth_app) if oauth_app is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # Chats still running when the server stops: end their tasks rather than leave them pending.
        tasks = [c.task for c in emulator.store.chats.values() if c.task is not None and not c.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    app = Starlette(
        routes=[
            *ChatRoutes(emulator).routes(),
            *ConversationRoutes(emulator).routes(),
            *BotRoutes(emulator).routes(),
            *BotListRoutes(emulator).routes(),
            *WorkspaceRoutes(emulator).routes(),
            *ConversationEditRoutes(emulator).routes(),
            *FeedbackRoutes(emulator).routes(),
            *AudioRoutes(emulator).routes(),
            *WorkflowRoutes(emulator).routes(),
            *(oauth.routes() if oauth is not None else []),
        ],
        exception_handlers={EmulatorError: error_response, HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.add_middleware(EmulatorMiddleware)
    app.state.emulator = emulator
    app.state.oauth = oauth
    return app
