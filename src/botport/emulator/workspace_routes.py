"""Workspaces: ``GET /v1/workspaces``, the spaces the token's user has joined.

The emulator has one, the personal space (:data:`WORKSPACE_ID`), and every token's user owns it; its
bots are the emulator's (``GET /v1/bots`` answers the same bots for any workspace id). Paging is by
``page_num`` and ``page_size`` (at most 50, as Coze documents); the answer is
``{workspaces: [{id, name, icon_url, role_type, workspace_type, enterprise_id, ...}], total_count}``,
the shape of cozepy's ``Workspace`` and coze-js's ``OpenSpaceData``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.context import Emulator
from botport.emulator.envelope import ok
from botport.emulator.paging import int_query, page

WORKSPACE_ID = "7000000000000000100"
WORKSPACE_NAME = "Personal"
MAX_PAGE_SIZE = 50


def _workspace(account: str) -> dict[str, object]:
    return {
        "id": WORKSPACE_ID,
        "name": WORKSPACE_NAME,
        "icon_url": "",
        "role_type": "owner",
        "workspace_type": "personal",
        "enterprise_id": "",  # empty for a personal account's space, as Coze sends it
        "owner_uid": account,
        "admin_uids": [],
        "description": "The emulator's bots.",
        "joined_status": "joined",
    }


class WorkspaceRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [Route("/v1/workspaces", self.list_workspaces, methods=["GET"])]

    async def list_workspaces(self, request: Request) -> Response:
        account = self.emulator.account(request)
        page_num = int_query(request, ("page_num",), 1, 1, 100_000)
        page_size = int_query(request, ("page_size",), 20, 1, MAX_PAGE_SIZE)
        spaces = [_workspace(account)]
        return ok({"workspaces": page(spaces, page_num, page_size)[0], "total_count": len(spaces)})
