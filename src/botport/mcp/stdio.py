"""``botport mcp`` without a URL: botport runs in this process, built from the same settings as
``botport serve`` (demo mode without a Coze token), and serves MCP on stdin/stdout.

The process is one fixed local identity, ``mcp`` (like the terminal's own ``terminal``): its
conversations persist in the data directory across runs, and are its own (not a browser's, not an API
key's). The SDK's stdio transport keeps stdout for JSON-RPC alone (a stray print goes to stderr).
"""

from __future__ import annotations

from mcp.server.stdio import stdio_server

from botport.identity import Identity
from botport.mcp.server import BotportMcp
from botport.settings import Settings

IDENTITY = Identity("web", "mcp")


async def serve_in_process(settings: Settings) -> None:
    """Build the app, run its lifespan (database, Coze client or emulator, chat service) and serve
    MCP over stdio until the client closes stdin."""
    from botport.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        mcp = BotportMcp(lambda: services, identity=IDENTITY)
        async with stdio_server() as (read_stream, write_stream):
            await mcp.server.run(read_stream, write_stream, mcp.server.create_initialization_options())
