"""What every command shares: the ``--config`` option, loading the settings, failing with a message."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from botport.settings import Settings, load_settings

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="BOTPORT_CONFIG", help="TOML config file.", exists=True),
]
# A running botport to talk to (`botport chat`, `botport mcp`); without it, botport runs in-process.
UrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="BOTPORT_URL", help="A running botport, e.g. http://127.0.0.1:8400. Default: in-process."
    ),
]
KeyOption = Annotated[
    str | None, typer.Option(envvar="BOTPORT_API_KEY", help="botport API key for --url (bp_...).")
]


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong on stderr and exit: 1 a failure, 2 a usage or settings error."""
    typer.echo(f"botport: {message}", err=True)
    raise typer.Exit(code)


def load(config: Path | None, **overrides: Any) -> Settings:
    """The settings from the environment, ``config`` and the command line (``None`` values ignored).
    Invalid settings end the command with their errors (exit 2)."""
    from pydantic import ValidationError

    try:
        return load_settings(config, **{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        fail(f"invalid settings:\n{exc}", 2)


def say_data_dir(settings: Settings) -> None:
    """Every command that reads or writes the data says where it is: two folders must never be
    mistaken for one (a second, empty database made by running a command elsewhere)."""
    typer.echo(f"botport: data in {settings.data_dir_description()}", err=True)
    earlier = Path("botport-data")
    if "data_dir" not in settings.model_fields_set and (earlier / "botport.db").is_file():
        # botport 0.1 kept its data in ./botport-data: point there rather than start afresh.
        typer.echo(
            f"botport: {earlier.resolve()} holds data of an earlier botport: "
            f"set BOTPORT_DATA_DIR={earlier.resolve()} to keep using it",
            err=True,
        )
