"""``botport mcp --url URL --key bp_...``: an MCP server on stdio that forwards every request to a
running botport's ``/mcp`` with the API key, for clients that can only launch a command.

It is an MCP server and an MCP client (the SDK's), not a byte pipe: each side negotiates its own
protocol version, progress is passed on as it comes, and a call the stdio client cancels is cancelled
on the server (its HTTP request is closed, which stops the turn).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from botport import __version__
from botport.mcp.ask import error_result
from botport.mcp.server import INSTRUCTIONS

Context = ServerRequestContext[Any, Any]

# Reads wait long: a tool call's stream is quiet while the bot thinks (the server pings every 15 s).
TIMEOUT = httpx2.Timeout(30.0, read=300.0)


class BridgeError(Exception):
    """The server cannot be used (unreachable, the key refused); the message says what to fix."""


def mcp_url(url: str) -> str:
    """The ``/mcp`` endpoint of a botport, given its base URL (as ``botport chat --url`` takes it)."""
    base = url.rstrip("/")
    return base if base.endswith("/mcp") else f"{base}/mcp"


@asynccontextmanager
async def connect(url: str, key: str) -> AsyncIterator[Client]:
    """A client of the server's ``/mcp``, connected (the key checked on the way)."""
    endpoint = mcp_url(url)
    headers = {"Authorization": f"Bearer {key}", "User-Agent": f"botport-mcp/{__version__}"}
    async with httpx2.AsyncClient(headers=headers, timeout=TIMEOUT) as http:
        await _check(http, endpoint)
        async with Client(streamable_http_client(endpoint, http_client=http)) as client:
            yield client


async def _check(http: httpx2.AsyncClient, endpoint: str) -> None:
    """Say plainly what is wrong before the MCP client would (it reports an HTTP 401 as a broken
    stream). A POST with no message: 401 for a refused key, some 4xx from the SDK otherwise."""
    try:
        response = await http.post(endpoint, content=b"", headers={"Content-Type": "application/json"})
    except httpx2.HTTPError as exc:
        raise BridgeError(f"cannot reach botport at {endpoint}: {exc or type(exc).__name__}") from exc
    if response.status_code in (401, 429):
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {response.status_code}"
        raise BridgeError(f"{endpoint} refused the API key: {message}")
    if response.status_code == 404:
        raise BridgeError(f"{endpoint} is not found: is this a botport server, of a version with MCP?")


def proxy(remote: Client) -> Server[Any]:
    """An MCP server whose every answer is the remote server's."""

    async def list_tools(ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return await remote.list_tools(cursor=params.cursor if params else None)

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        async def forward(progress: float, total: float | None, message: str | None) -> None:
            await ctx.session.report_progress(progress, total, message)

        try:
            return await remote.call_tool(params.name, params.arguments, progress_callback=forward)
        except MCPError:
            raise  # the server's own answer (an unknown tool): the same error here
        except (httpx2.HTTPError, OSError) as exc:
            return error_result(f"botport could not be reached to ask the bot: {exc or type(exc).__name__}.")

    async def list_resources(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return await remote.list_resources(cursor=params.cursor if params else None)

    async def list_templates(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return await remote.list_resource_templates(cursor=params.cursor if params else None)

    async def read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await remote.read_resource(params.uri)

    return Server(
        "botport",
        version=__version__,
        title="botport",
        description="Coze bots as tools, through a self-hosted botport gateway.",
        instructions=remote.instructions or INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


async def serve_bridge(url: str, key: str) -> None:
    """Serve the remote botport's MCP on stdio until the client closes stdin."""
    async with connect(url, key) as remote:
        server = proxy(remote)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
