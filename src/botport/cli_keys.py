"""``botport keys``: API keys for programs (REST, OpenAI edge, tool endpoint). Keys are stored hashed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from botport.settings import load_settings
from botport.store import keys as key_store
from botport.store.db import Database

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
T = TypeVar("T")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="BOTPORT_CONFIG", help="TOML config file.", exists=True),
]


def _run(config: Path | None, action: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    settings = load_settings(config)

    async def go() -> T:
        db = Database(settings.resolved_database_url)
        await db.start()
        try:
            async with db.connect() as conn:
                return await action(conn)
        finally:
            await db.close()

    return asyncio.run(go())


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the key is for.")], config: ConfigOption = None
) -> None:
    """Create a key and print it once (stdout). Only its hash is kept."""
    plaintext, record = _run(config, lambda conn: key_store.create_api_key(conn, name))
    typer.echo(f"Created key {record.prefix}… ({record.name}). It is shown only this once:", err=True)
    typer.echo(plaintext)


@keys_app.command("list")
def list_keys(config: ConfigOption = None) -> None:
    """List keys (prefix, name, created, last used, revoked)."""
    records = _run(config, key_store.list_api_keys)
    table = Table("id", "prefix", "name", "created", "last used", "revoked")
    for r in records:
        table.add_row(
            r.id,
            r.prefix + "…",
            r.name,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "-",
            f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "",
        )
    Console().print(table)


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key's id or its listed prefix.")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    try:
        record = _run(config, lambda conn: key_store.revoke_api_key(conn, key))
    except ValueError as exc:
        typer.echo(f"botport: {exc}", err=True)
        raise typer.Exit(2) from exc
    if record is None:
        typer.echo(f"botport: no key matches {key!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"Revoked {record.prefix}… ({record.name}).", err=True)
