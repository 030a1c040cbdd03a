"""``botport schema``: print the OpenAPI document to paste into an agent platform (stdout)."""

from __future__ import annotations

from typing import Annotated

import typer

from botport.cli.options import ConfigOption, fail, load
from botport.schema import Format, Target, coze_document, render, tool_document


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
        Target,
        typer.Option(help="qingyan: Zhipu Qingyan agent (3.0); gpts: GPT actions (3.1); coze: plugin (3.0)."),
    ] = Target.qingyan,
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
    """Print an OpenAPI document for the tool endpoint (POST /api/tool/ask), or with --coze for Coze."""
    settings = load(config)
    if coze:
        document = coze_document(coze_base_url or settings.coze_base_url, target, bot_id=bot_id)
    else:
        url = public_url or settings.public_url
        if not url:
            fail("give --public-url (or set BOTPORT_PUBLIC_URL)", 2)
        if not url.startswith(("http://", "https://")):
            fail(f"--public-url must start with http:// or https://, not {url!r}", 2)
        # Configured bots only: demo bots would mislead a document meant for a real server.
        document = tool_document(url, target, bots=settings.all_bots())
    typer.echo(render(document, output_format), nl=False)
