"""The ``botport`` command: one module per command, what they share in :mod:`botport.cli.options`.
Logging is configured by the commands (:func:`botport.cli.logs.configure_logging`), never in library
code."""

from __future__ import annotations

import typer

from botport.cli.chat import chat
from botport.cli.doctor import doctor
from botport.cli.embed import embed_snippet
from botport.cli.emulator import emulator
from botport.cli.keys import keys_app
from botport.cli.mcp import mcp
from botport.cli.schema import schema
from botport.cli.serve import serve

app = typer.Typer(help="botport: a self-hosted gateway and web chat for Coze bots.", no_args_is_help=True)

app.add_typer(keys_app, name="keys")
app.command("chat")(chat)
app.command("doctor")(doctor)
app.command("embed-snippet")(embed_snippet)
app.command("emulator")(emulator)
app.command("mcp")(mcp)
app.command("schema")(schema)
app.command("serve")(serve)


@app.callback()
def main() -> None:
    """botport: a self-hosted gateway and web chat for Coze bots."""
