"""``botport emulator``: the offline Coze emulator on its own port, for any Coze client."""

from __future__ import annotations

from typing import Annotated

import typer

from botport.cli.logs import configure_logging


def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8401,
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            envvar="BOTPORT_EMULATOR_TOKENS",
            help="Accepted Bearer token (repeatable). Default: demo-token.",
        ),
    ] = None,
    poll_limit: Annotated[
        bool,
        typer.Option(
            "--poll-limit/--no-poll-limit",
            help="Refuse a chat's retrieves beyond about one a second, as Coze does (error 4013).",
        ),
    ] = True,
) -> None:
    """Serve the offline Coze v3 emulator (its demo bots answer without a network)."""
    import uvicorn

    from botport.emulator.app import create_emulator_app

    configure_logging("info")
    tokens = token or ["demo-token"]
    emulator_app = create_emulator_app(tokens=tokens, poll_limit=poll_limit)
    typer.echo(f"Coze emulator on http://{host}:{port} (tokens: {len(tokens)} configured)", err=True)
    uvicorn.run(emulator_app, host=host, port=port, log_level="warning")
