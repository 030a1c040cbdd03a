"""The ``botport`` command; most commands live in ``cli_*.py``. Logging is configured by the
commands (:func:`botport.cli_serve.configure_logging`), never in library code."""

from __future__ import annotations

from typing import Annotated

import typer

from botport.cli_chat import chat
from botport.cli_keys import keys_app
from botport.cli_schema import schema
from botport.cli_serve import configure_logging, serve
from botport.doctor import doctor

app = typer.Typer(help="botport: a self-hosted gateway and web chat for Coze bots.", no_args_is_help=True)

app.add_typer(keys_app, name="keys")
app.command("chat")(chat)
app.command("doctor")(doctor)
app.command("schema")(schema)
app.command("serve")(serve)


@app.callback()
def main() -> None:
    """botport: a self-hosted gateway and web chat for Coze bots."""


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

    configure_logging("info")
    tokens = token or ["demo-token"]
    emulator_app = create_emulator_app(tokens=tokens)
    typer.echo(f"Coze emulator on http://{host}:{port} (tokens: {len(tokens)} configured)", err=True)
    uvicorn.run(emulator_app, host=host, port=port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    app()
