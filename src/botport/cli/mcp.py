"""``botport mcp``: botport as an MCP server on stdin/stdout, for MCP clients that launch a command
(Claude Desktop, Cursor, VS Code...; see docs/mcp.md).

Without ``--url`` botport runs inside this process, from the same settings as ``botport serve`` (demo
mode without a Coze token), as ``botport chat`` does. With ``--url`` it forwards to a running botport's
``/mcp`` with an API key. Only MCP's JSON-RPC goes to stdout; the log goes to stderr.
"""

from __future__ import annotations

import asyncio
import logging

import typer

from botport.cli.options import ConfigOption, KeyOption, UrlOption, fail, load, say_data_dir


def mcp(
    url: UrlOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve MCP on stdin/stdout: each bot is a tool, your conversations are resources.

    Without --url, botport runs in this process from the same settings as `botport serve` (demo mode
    without a Coze token). With --url and an API key, it forwards to that botport's /mcp. For MCP
    clients that launch a command; see docs/mcp.md."""
    # Library code logs; this command sends it to stderr (stdout carries the protocol), warnings and up.
    logging.basicConfig(level=logging.WARNING, format="botport: %(levelname)s %(name)s: %(message)s")
    if url:
        if not key:
            fail(
                "--url needs a botport API key: --key or BOTPORT_API_KEY "
                "(make one on the server with `botport keys create NAME`)",
                2,
            )
        _run_bridge(url, key)
        return
    settings = load(config)
    say_data_dir(settings)
    from botport.mcp.stdio import serve_in_process

    try:
        asyncio.run(serve_in_process(settings))
    except ValueError as exc:  # create_app: no bot configured, a bad database URL
        fail(str(exc), 2)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _run_bridge(url: str, key: str) -> None:
    from botport.mcp.bridge import BridgeError, serve_bridge

    try:
        asyncio.run(serve_bridge(url, key))
    except BridgeError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
