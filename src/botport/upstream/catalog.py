"""What a token can see on Coze: whether it is accepted at all, its workspaces, their bots, and
whether a bot is published to the API channel. :class:`CatalogCalls` is part of
:class:`~botport.upstream.client.CozeClient`::

    async with CozeClient(base_url=..., token=...) as coze:
        await coze.check_token(bot_id)  # CozeAuthError when Coze refuses the token
        for space in await coze.list_workspaces():
            bots = await coze.list_bots(space.id)
        info = await coze.bot_info(bot_id)  # BotNotPublishedError (4015) when not on the API channel

Errors are the client's (:mod:`botport.errors`): 4100 and 4101 (the token lacks the call's
permission: ``listWorkspace``, ``listBot``) are :class:`~botport.errors.CozeAuthError`, with
``upstream_code`` telling them apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from botport.upstream.models import (
    BotInfo,
    BotPage,
    BotSummary,
    PublishStatus,
    Workspace,
    WorkspacePage,
)

_Model = TypeVar("_Model", bound=BaseModel)

WORKSPACES_PAGE = 50  # Coze's largest page of workspaces
BOTS_PAGE = 100  # Coze's largest page of bots
MAX_LISTED = 1000  # a list stops here: enough to find a bot, bounded in requests


class CatalogCalls:
    """The calls about the token, its workspaces and bots (a mixin of ``CozeClient``)."""

    if TYPE_CHECKING:  # CozeClient's, typed here for the calls below

        async def _call(
            self,
            model: type[_Model],
            method: str,
            path: str,
            *,
            params: Mapping[str, str] | None = None,
            body: Any | None = None,
        ) -> tuple[_Model, str | None]: ...

        async def _request(
            self,
            method: str,
            path: str,
            *,
            params: Mapping[str, str] | None = None,
            body: Any | None = None,
        ) -> tuple[Any, str | None]: ...

    async def check_token(self, bot_id: str | None = None) -> str | None:
        """One cheap authenticated call (the first conversation of ``bot_id``, if any): returns the
        log id when Coze accepts the token; raises the typed error otherwise."""
        params = {"page_num": "1", "page_size": "1"}
        if bot_id:
            params["bot_id"] = bot_id
        _, logid = await self._request("GET", "/v1/conversations", params=params)
        return logid

    async def list_workspaces(
        self, *, page_size: int = WORKSPACES_PAGE, limit: int = MAX_LISTED
    ) -> list[Workspace]:
        """The workspaces the token's user has joined, personal and team (up to ``limit``). Needs the
        token's ``listWorkspace`` permission."""
        found: list[Workspace] = []
        page_num = 1
        while len(found) < limit:
            params = {"page_num": str(page_num), "page_size": str(page_size)}
            page, _ = await self._call(WorkspacePage, "GET", "/v1/workspaces", params=params)
            found += page.workspaces
            if len(page.workspaces) < page_size or len(found) >= page.total_count:
                break
            page_num += 1
        return found[:limit]

    async def list_bots(
        self,
        workspace_id: str,
        *,
        publish_status: PublishStatus = PublishStatus.ALL,
        page_size: int = BOTS_PAGE,
        limit: int = MAX_LISTED,
    ) -> list[BotSummary]:
        """The bots of a workspace (up to ``limit``), by default published or not (``is_published``
        says which). Needs the token's ``listBot`` permission. On a personal account Coze lists only
        the bots of spaces the user owns."""
        found: list[BotSummary] = []
        page_num = 1
        while len(found) < limit:
            params = {
                "workspace_id": workspace_id,
                "publish_status": publish_status.value,
                "page_num": str(page_num),  # Coze's docs and coze-js; cozepy sends page_index
                "page_size": str(page_size),
            }
            page, _ = await self._call(BotPage, "GET", "/v1/bots", params=params)
            found += page.items
            if len(page.items) < page_size or len(found) >= page.total:
                break
            page_num += 1
        return found[:limit]

    async def bot_info(self, bot_id: str) -> BotInfo:
        """The bot as published to the API channel; :class:`~botport.errors.BotNotPublishedError`
        (4015) when it is not, or the token cannot use it by API."""
        info, _ = await self._call(BotInfo, "GET", "/v1/bot/get_online_info", params={"bot_id": bot_id})
        return info
