"""botport's MCP server: the tools (one per bot) and resources (the caller's conversations), on the
SDK's low-level server, for both transports.

The low-level server rather than ``MCPServer``: the tools are data (the configured bots), not Python
functions, and every handler needs the caller's identity, which comes with each request (an API key
over HTTP, the server's own over stdio), so handlers are plain functions of the request context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from botport import __version__
from botport.api.deps import Services
from botport.identity import Identity
from botport.mcp import resources
from botport.mcp.ask import ToolCall, error_result
from botport.mcp.calls import CALLER_KEY, Caller, InFlight
from botport.mcp.progress import Progress
from botport.mcp.tools import INPUT_SCHEMA, ArgumentError, bot_of, question_of, tool_name, tools_for

INSTRUCTIONS = (
    "Each tool asks one Coze bot served by botport and returns its whole answer. Every answer comes with a "
    "conversation_id: pass it back with the next question to the same tool to keep the bot's context. "
    "Your conversations are also resources (botport://conversations/{id}), readable as Markdown."
)

Context = ServerRequestContext[Any, Any]


class BotportMcp:
    """The handlers, bound to the app's services and to how a request's caller is found."""

    def __init__(
        self,
        services: Callable[[], Services],
        *,
        identity: Identity | None = None,
        inflight: InFlight | None = None,
        shutting_down: Callable[[], bool] = lambda: False,
    ) -> None:
        """``identity``: the caller of requests that come without an HTTP request (stdio)."""
        self.services = services
        self.identity = identity
        self.inflight = inflight or InFlight()
        self.shutting_down = shutting_down
        self.server: Server[Any] = Server(
            "botport",
            version=__version__,
            title="botport",
            description="Coze bots as tools, through a self-hosted botport gateway.",
            instructions=INSTRUCTIONS,
            # Every tool takes the same input: header validation need not list the tools per call.
            get_tool_input_schema=lambda name: INPUT_SCHEMA,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_templates,
            on_read_resource=self._read_resource,
        )

    def _caller(self, ctx: Context) -> Caller:
        if ctx.request is not None:
            caller = ctx.request.scope.get(CALLER_KEY)
            if isinstance(caller, Caller):
                return caller
        elif self.identity is not None:
            return Caller(self.identity)
        # The endpoint authenticates every request before the SDK sees it; this guards a misconfiguration.
        raise MCPError(types.INVALID_REQUEST, "this request has no botport identity (an API key)")

    async def _list_tools(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        self._caller(ctx)
        return types.ListToolsResult(tools=tools_for(self.services().bots))

    async def _call_tool(self, ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        caller = self._caller(ctx)
        services = self.services()
        bot = bot_of(services.bots, params.name)
        if bot is None:
            known = ", ".join(tool_name(b.slug) for b in services.bots)
            raise MCPError(types.INVALID_PARAMS, f"unknown tool {params.name!r}; this server has: {known}")
        try:
            question = question_of(params.arguments)
        except ArgumentError as exc:
            return error_result(f"The tool was called wrongly: {exc}.")
        call = ToolCall(services, caller.identity, bot, question)
        progress = Progress(ctx.session.report_progress)
        with self.inflight.running(caller.identity.owner, ctx.request_id, call), caller.running(call):
            return await call.run(progress, shutting_down=self.shutting_down)

    async def _list_resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        caller = self._caller(ctx)
        cursor = params.cursor if params is not None else None
        return await resources.list_conversations(self.services(), caller.identity, cursor)

    async def _list_templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        self._caller(ctx)
        return resources.templates()

    async def _read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        caller = self._caller(ctx)
        return await resources.read_conversation(self.services(), caller.identity, params.uri)
