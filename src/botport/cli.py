"""The ``botport`` command. Logging is configured here, never in library code."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="botport: a self-hosted gateway and web chat for Coze bots.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="BOTPORT_CONFIG", help="TOML config file.", exists=True),
]


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


@app.command()
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
) -> None:
    """Serve the offline Coze v3 emulator (its demo bots answer without a network)."""
    import uvicorn

    from botport.emulator.app import create_emulator_app

    _configure_logging("info")
    tokens = token or ["demo-token"]
    emulator_app = create_emulator_app(tokens=tokens)
    typer.echo(f"Coze emulator on http://{host}:{port} (tokens: {len(tokens)} configured)", err=True)
    uvicorn.run(emulator_app, host=host, port=port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    app()
