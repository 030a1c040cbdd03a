"""``create_app(settings)`` builds the FastAPI app. Nothing is configured at import time; the lifespan
owns the HTTP client and the database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr

from botport import __version__
from botport.api import access, branches, feedback, files, library, openai, openai_responses, seed, tool, web
from botport.api.cross_site import CrossSiteGuardMiddleware
from botport.api.deps import Services
from botport.api.docs import install_docs
from botport.api.embed import embed_router
from botport.api.errors import install_error_handlers
from botport.api.forwarded import ForwardedHeadersMiddleware, TrustedProxies
from botport.api.limits import BodySizeLimitMiddleware
from botport.api.openai_schemas import CONVERSATION_HEADER
from botport.api.page_assets import PageAssets, asset_response
from botport.api.request_limits import RequestLimitMiddleware
from botport.api.turn_edge import MESSAGE_ID_HEADER
from botport.bots import BotRegistry
from botport.caller_limits import CallerLimits
from botport.chat.coze_sync import CozeSync
from botport.chat.eventlog import EventLogs
from botport.chat.keeper import new_runner_id
from botport.chat.service import ChatService
from botport.demo import emulated_coze, offered_bots
from botport.embed_tokens import EmbedTokens
from botport.identity import BrowserIdentityMiddleware, IdentitySigner, load_or_create_secret
from botport.mcp.http import McpEndpoint
from botport.ratelimit import make_limiter
from botport.redaction import Redactor, install_log_redaction
from botport.security_headers import SecurityHeadersMiddleware
from botport.settings import Settings
from botport.store.db import Database
from botport.upstream.client import CozeClient
from botport.upstream.oauth import CozeOAuthTokens, app_private_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"


async def _coze_client(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    stack: AsyncExitStack,
    *,
    redactor: Redactor,
    oauth_key: RSAPrivateKey | None,
) -> CozeClient:
    """The real Coze, or in demo mode the built-in emulator, in-process and streaming."""
    if settings.demo_mode:
        return await emulated_coze(settings, transport, stack)
    token: SecretStr | CozeOAuthTokens
    if oauth_key is not None:  # a Coze OAuth app's short-lived tokens, added to the logs' redactor
        token = CozeOAuthTokens.from_settings(
            settings, private_key=oauth_key, redactor=redactor, transport=transport
        )
        stack.push_async_callback(token.aclose)
    else:
        assert settings.coze_token is not None
        token = settings.coze_token
    return CozeClient(
        base_url=settings.coze_base_url,
        token=token,
        transport=transport,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_connections=settings.upstream_max_connections,
    )


def _event_logs(settings: Settings, runner: str) -> EventLogs:
    """Running turns' event logs: in this process, or shared through Redis for several instances."""
    if settings.redis_url:
        from botport.chat.redis_logs import RedisEventLogs

        log.info("running turns are shared through Redis")
        return RedisEventLogs(
            settings.redis_url,
            runner=runner,
            retention=settings.turn_log_retention,
            max_turn_seconds=settings.turn_timeout,
        )
    return EventLogs(retention=settings.turn_log_retention)


def create_app(settings: Settings, *, upstream_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Build botport. ``upstream_transport`` replaces the network (tests pass a mock or the emulator)."""
    bots = BotRegistry(offered_bots(settings))
    oauth_key = app_private_key(settings)  # read once; a missing or wrong file stops the start here
    secret = (
        settings.secret_key.get_secret_value().encode()
        if settings.secret_key
        else load_or_create_secret(settings.data_dir)
    )
    signer = IdentitySigner(secret)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The last line of defence: no log line carries the token, whatever wrote it.
        secrets = [settings.coze_token.get_secret_value()] if settings.coze_token else []
        redactor = Redactor(secrets, growing=settings.oauth_app)  # + an OAuth app's tokens, as issued
        unredact_logs = install_log_redaction(redactor)
        db = Database(settings.resolved_database_url)
        await db.start()
        stack = AsyncExitStack()
        coze = await _coze_client(settings, upstream_transport, stack, redactor=redactor, oauth_key=oauth_key)
        runner = new_runner_id()
        limits = CallerLimits(settings, make_limiter(settings.redis_url), db)
        chat = ChatService(
            db=db,
            coze=coze,
            bots=bots,
            coze_user_id=signer.coze_user_id,
            logs=_event_logs(settings, runner),
            runner=runner,
            turn_timeout=settings.turn_timeout,
            max_message_chars=settings.max_message_chars,
            checkpoint_interval=settings.checkpoint_interval,
            lease=settings.turn_lease,
            limits=limits,
        )
        await chat.open()
        coze_sync = CozeSync(coze)
        app.state.services = Services(
            settings=settings, db=db, bots=bots, chat=chat, signer=signer, limits=limits, coze_sync=coze_sync
        )
        if settings.demo_mode:
            log.warning("DEMO MODE: no Coze token is set; the built-in emulator answers with its demo bots")
        else:
            how = f" as Coze OAuth app {settings.coze_oauth_app_id}" if settings.oauth_app else ""
            log.info("serving %d bot(s) from %s%s", len(list(bots)), settings.coze_base_url, how)
        try:
            async with mcp_endpoint.running():  # /mcp's tool calls end before the chat service closes
                yield
        finally:
            await chat.close()
            await coze_sync.close()
            await limits.aclose()
            await coze.aclose()
            await stack.aclose()
            await db.close()
            unredact_logs()

    app = FastAPI(
        title="botport",
        version=__version__,
        description="A self-hosted gateway and web chat for Coze bots.",
        lifespan=lifespan,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,  # ReDoc has no offline bundle here
    )
    install_docs(app)
    install_error_handlers(app)
    app.include_router(web.router)
    app.include_router(branches.router)
    app.include_router(files.router)
    files.document_limits(app, settings)
    app.include_router(feedback.router)
    app.include_router(library.router)
    app.include_router(access.router)
    app.include_router(seed.router)
    app.include_router(openai.router)
    app.include_router(openai_responses.router)
    app.include_router(tool.router)
    mcp_endpoint = McpEndpoint(lambda: app.state.services)
    mcp_endpoint.mount(app)

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    # Uptime monitors send HEAD (the server sends the headers, not the body).
    app.head("/healthz", include_in_schema=False)(healthz)

    _mount_page(app)

    # Outermost last: security headers wrap everything, then CORS, the body limit, the cross-site
    # guard (a refused request gets no cookie), identity, then the browser's requests a minute.
    app.add_middleware(RequestLimitMiddleware)
    embed = EmbedTokens(signer, settings, bots).identity  # the chat widget's X-Botport-Embed header
    app.add_middleware(BrowserIdentityMiddleware, signer=signer, secure=settings.https_site, embed=embed)
    app.add_middleware(CrossSiteGuardMiddleware, public_url=settings.public_url)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout,
        routes=files.attachment_body_limits(settings),  # the routes that take attachments: larger
    )
    if settings.cors_origins:  # API-key calls from these sites' pages; cookies never cross (no credentials)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "Last-Event-ID",
                "X-Botport-Render",
                CONVERSATION_HEADER,
            ],
            expose_headers=[CONVERSATION_HEADER, MESSAGE_ID_HEADER, "Retry-After"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    # Outermost: the caller's address, scheme and host, from a trusted proxy's headers only.
    app.add_middleware(ForwardedHeadersMiddleware, trusted=TrustedProxies(settings.trusted_proxies))
    return app


def _mount_page(app: FastAPI) -> None:
    index = WEB_DIR / "index.html"
    if not index.exists():  # the page ships with the package; a source tree without it still serves the API
        return
    assets = PageAssets(WEB_DIR)
    app.mount("/static", assets, name="static")
    page_html = assets.assets["index.html"]
    app.include_router(embed_router(page_html, assets.assets["embed.js"]))  # the widget (docs/embed.md)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page(request: Request) -> Response:
        return asset_response(request, page_html)

    @app.api_route("/c/{conversation_id}", methods=["GET", "HEAD"], include_in_schema=False)
    async def page_for_conversation(request: Request, conversation_id: str) -> Response:
        return asset_response(request, page_html)
