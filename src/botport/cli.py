"""The ``botport`` command. Logging is configured here, never in library code."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from botport import __version__
from botport.cli_chat import chat
from botport.cli_keys import keys_app
from botport.cli_schema import schema
from botport.doctor import doctor
from botport.settings import Settings, load_settings

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
    # httpx logs every request URL at INFO; keep it quiet unless debugging.
    logging.getLogger("httpx").setLevel(logging.WARNING if level != "debug" else logging.DEBUG)


def _settings(config: Path | None, **overrides: Any) -> Settings:
    from pydantic import ValidationError

    try:
        return load_settings(config, **{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        typer.echo(f"botport: invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from exc


app.add_typer(keys_app, name="keys")
app.command("chat")(chat)
app.command("doctor")(doctor)
app.command("schema")(schema)


@app.callback()
def main() -> None:
    """botport: a self-hosted gateway and web chat for Coze bots."""


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8400).")] = None,
) -> None:
    """Run botport: the web page, the API and the gateway to Coze (demo mode without a token)."""
    import uvicorn

    from botport.app import create_app

    settings = _settings(config, host=host, port=port)
    _configure_logging(settings.log_level)
    try:
        application = create_app(settings)
    except ValueError as exc:
        typer.echo(f"botport: {exc}", err=True)
        raise typer.Exit(2) from exc
    mode = "DEMO MODE (built-in emulator, no Coze token)" if settings.demo_mode else settings.coze_base_url
    typer.echo(f"botport {__version__} on http://{settings.host}:{settings.port}  [{mode}]", err=True)
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        # uvicorn's access log at info, like botport's own log; paths and statuses only, never bodies.
        log_level=settings.log_level,
        proxy_headers=True,
        timeout_graceful_shutdown=5,
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
