"""FastAPI dependencies, named as types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from botport.api.web_access import require_web_access
from botport.bots import BotRegistry
from botport.caller_limits import CallerLimits
from botport.chat.coze_sync import CozeSync
from botport.chat.service import ChatService
from botport.errors import AuthenticationError, BadRequestError
from botport.identity import Identity, IdentitySigner
from botport.settings import Settings
from botport.store import keys
from botport.store.db import Database


@dataclass
class Services:
    """What the lifespan builds and the routes use."""

    settings: Settings
    db: Database
    bots: BotRegistry
    chat: ChatService
    signer: IdentitySigner
    limits: CallerLimits
    coze_sync: CozeSync  # deletes and ratings told to Coze after the fact


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_chat_service(services: ServicesDep) -> ChatService:
    return services.chat


ChatServiceDep = Annotated[ChatService, Depends(get_chat_service)]


def get_bots(services: ServicesDep) -> BotRegistry:
    return services.bots


BotsDep = Annotated[BotRegistry, Depends(get_bots)]


async def get_identity(request: Request, services: ServicesDep) -> Identity:
    """An API key when the request carries one; otherwise the browser's cookie identity."""
    header = request.headers.get("authorization")
    if header is not None:
        return await api_key_identity(header, services)
    state = request.scope.get("state", {})
    if state.get("embed_token_invalid"):  # the chat widget's frame asks for a new one (docs/embed.md)
        raise AuthenticationError(
            "the chat widget's session is invalid or expired: start a new one", code="invalid_embed_token"
        )
    if state.get("identity_conflict"):  # never guess which of two identity cookies is the browser's own
        raise BadRequestError(
            "this browser sent two botport identity cookies (another site on this host set one); "
            "this answer removed the other one: try again",
            code="identity_cookie_conflict",
        )
    identity: Identity | None = state.get("web_identity")
    if identity is None:  # the middleware always sets one; this guards a misconfigured app
        raise AuthenticationError("no identity")
    if services.settings.web_access != "public":
        require_web_access(request, services.settings, services.signer, identity)
    return identity


async def api_key_identity(header: str, services: ServicesDep) -> Identity:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("use 'Authorization: Bearer <botport API key>'", code="invalid_api_key")
    plaintext = token.strip()
    record = await services.db.read_op(lambda conn: keys.find_api_key(conn, plaintext))
    if record is not None and keys.use_is_stale(record):
        async with services.db.connect() as conn:
            record = await keys.record_key_use(conn, record)
    if record is None:
        raise AuthenticationError("the API key is unknown or revoked", code="invalid_api_key")
    identity = Identity("key", record.id, quota=record.quota)
    await services.limits.check_key_request(identity)
    return identity


IdentityDep = Annotated[Identity, Depends(get_identity)]


async def require_api_key(request: Request, services: ServicesDep) -> Identity:
    """For machine edges (OpenAI, tool): a key is required, a cookie is not enough."""
    header = request.headers.get("authorization")
    if header is None:
        raise AuthenticationError(
            "an API key is required: 'Authorization: Bearer bp_...'", code="missing_api_key"
        )
    return await api_key_identity(header, services)


ApiKeyIdentityDep = Annotated[Identity, Depends(require_api_key)]
