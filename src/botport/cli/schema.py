"""``botport schema``: print the OpenAPI document to paste into an agent platform, or with
``--target mcp`` the MCP client configurations (stdout)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from botport.cli.options import ConfigOption, fail, load
from botport.schema import Format, Target, coze_document, render, tool_document
from botport.schema.mcp_clients import DEFAULT_URL, client_configs
from botport.settings import Settings


class SchemaTarget(StrEnum):
    """What the document is for: an agent platform's OpenAPI (:class:`Target`), or MCP clients."""

    qingyan = "qingyan"
    gpts = "gpts"
    coze = "coze"
    mcp = "mcp"


def schema(
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="Where platforms reach botport, e.g. https://bot.example.com (default: public_url setting).",
        ),
    ] = None,
    output_format: Annotated[Format, typer.Option("--format", help="json or yaml.")] = Format.json,
    target: Annotated[
        SchemaTarget,
        typer.Option(
            help="qingyan: Zhipu Qingyan agent (3.0); gpts: GPT actions (3.1); coze: plugin (3.0); "
            "mcp: MCP client configs (Claude Desktop, Cursor, VS Code)."
        ),
    ] = SchemaTarget.qingyan,
    coze: Annotated[
        bool,
        typer.Option("--coze", help="Instead: Coze's own chat API, for callers that hold a Coze token."),
    ] = False,
    coze_base_url: Annotated[
        str | None,
        typer.Option(help="With --coze: Coze's address (default: coze_base_url setting)."),
    ] = None,
    bot_id: Annotated[
        str | None, typer.Option(help="With --coze: allow only this Coze bot id in the document.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print the tool endpoint's OpenAPI document, Coze's with --coze, or MCP client configs.

    The OpenAPI document describes POST /api/tool/ask for an agent platform; --target mcp prints the
    configurations of Claude Desktop, Cursor and VS Code for botport's MCP server instead."""
    settings = load(config)
    if target is SchemaTarget.mcp:
        if coze:
            fail("--coze describes Coze's API for agent platforms; leave it out with --target mcp", 2)
        typer.echo(render(_mcp_configs(public_url, settings, config), output_format), nl=False)
        return
    platform = Target(target.value)
    if coze:
        document = coze_document(coze_base_url or settings.coze_base_url, platform, bot_id=bot_id)
    else:
        url = _checked_url(public_url or settings.public_url)
        # Configured bots only: demo bots would mislead a document meant for a real server.
        document = tool_document(url, platform, bots=settings.all_bots())
    typer.echo(render(document, output_format), nl=False)


def _checked_url(url: str | None) -> str:
    if not url:
        fail("give --public-url (or set BOTPORT_PUBLIC_URL)", 2)
    if not url.startswith(("http://", "https://")):
        fail(f"--public-url must start with http:// or https://, not {url!r}", 2)
    return url


def _mcp_configs(public_url: str | None, settings: Settings, config: Path | None) -> dict[str, object]:
    url = public_url or settings.public_url
    if not url:
        # A client on this machine, next to `botport serve`: its default address will do.
        typer.echo(f"botport: no --public-url: the configurations use {DEFAULT_URL}", err=True)
        url = DEFAULT_URL
    return client_configs(_checked_url(url), settings, config=config)
