"""``botport keys``: API keys for programs (REST, OpenAI edge, tool endpoint). Keys are stored hashed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from botport.cli.options import ConfigOption, load, say_data_dir
from botport.store import keys as key_store
from botport.store.db import Database
from botport.store.records import ApiKeyRecord, KeyQuota

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
T = TypeVar("T")


def _run(config: Path | None, action: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    settings = load(config)
    say_data_dir(settings)

    async def go() -> T:
        db = Database(settings.resolved_database_url)
        await db.start()
        try:
            async with db.connect() as conn:
                return await action(conn)
        finally:
            await db.close()

    return asyncio.run(go())


QUOTA_NAMES = {
    "requests_per_minute": "requests_per_minute",
    "rpm": "requests_per_minute",
    "concurrent_turns": "concurrent_turns",
    "concurrent": "concurrent_turns",
    "turns_per_day": "turns_per_day",
    "tokens_per_day": "tokens_per_day",
}
QuotaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--quota",
        "-q",
        help="A limit, NAME=VALUE, repeatable: requests_per_minute (rpm), concurrent_turns (concurrent), "
        "turns_per_day, tokens_per_day; VALUE a number (200k, 1m) or none.",
    ),
]


def parse_quota(items: list[str], base: KeyQuota | None = None) -> KeyQuota:
    """``["turns_per_day=500", "tokens_per_day=200k"]`` on top of ``base``."""
    changes: dict[str, int | None] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        field = QUOTA_NAMES.get(name.strip().lower().replace("-", "_"))
        if not sep or field is None:
            raise ValueError(f"a quota is NAME=VALUE with NAME one of {', '.join(QUOTA_NAMES)}; not {item!r}")
        changes[field] = _quota_value(raw.strip().lower(), item)
    return replace(base or KeyQuota(), **changes)


def _quota_value(raw: str, item: str) -> int | None:
    if raw in ("none", "off", "unlimited", ""):
        return None
    scale = {"k": 1_000, "m": 1_000_000}.get(raw[-1:], 1)
    digits = raw[:-1] if scale > 1 else raw
    if not digits.isdigit() or int(digits) * scale <= 0:
        raise ValueError(f"a quota value is a positive number (200k, 1m) or none; not {item!r}")
    return int(digits) * scale


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="What the key is for.")],
    quota: QuotaOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a key and print it once (stdout). Only its hash is kept."""
    limits = _parsed(quota or [])
    plaintext, record = _run(config, lambda conn: key_store.create_api_key(conn, name=name, quota=limits))
    typer.echo(f"Created key {record.prefix}… ({record.name}). It is shown only this once:", err=True)
    typer.echo(plaintext)


def _parsed(items: list[str], base: KeyQuota | None = None) -> KeyQuota:
    try:
        return parse_quota(items, base)
    except ValueError as exc:
        typer.echo(f"botport: {exc}", err=True)
        raise typer.Exit(2) from exc


@keys_app.command("quota")
def set_quota(
    key: Annotated[str, typer.Argument(help="The key's id or its listed prefix.")],
    quota: QuotaOption = None,
    config: ConfigOption = None,
) -> None:
    """Show a key's quota, or change it (--quota NAME=VALUE; none lifts a limit). Applies at once."""

    async def change(conn: AsyncConnection, record: ApiKeyRecord) -> KeyQuota:
        new = _parsed(quota or [], record.quota)
        if quota:
            await key_store.set_key_quota(conn, key_id=record.id, quota=new)
        return new

    record, new = _on_key(config, key, change)
    typer.echo(f"{record.prefix}… ({record.name}): {new.describe()}")


@keys_app.command("list")
def list_keys(config: ConfigOption = None) -> None:
    """List keys: prefix, name, created, last used, revoked, quota, and turns/tokens used (today, UTC,
    and in all)."""

    async def keys_and_usage(
        conn: AsyncConnection,
    ) -> tuple[list[ApiKeyRecord], dict[str, tuple[int, int, int, int]]]:
        return await key_store.list_api_keys(conn), await key_store.usage_by_key(conn)

    records, usage = _run(config, keys_and_usage)
    table = Table()
    table.add_column("key", no_wrap=True)  # what `revoke` and `quota` take, or the id
    for column in ("name", "last used", "quota", "today", "in all", "revoked"):
        table.add_column(column)
    table.add_column("id", overflow="fold")
    for r in records:
        turns_today, tokens_today, turns, tokens = usage.get(r.id, (0, 0, 0, 0))
        table.add_row(
            r.prefix + "…",
            r.name,
            f"{r.last_used_at:%Y-%m-%d %H:%M}" if r.last_used_at else "-",
            _quota(r.quota),
            _usage(turns_today, tokens_today),
            _usage(turns, tokens),
            f"{r.revoked_at:%Y-%m-%d}" if r.revoked_at else "",
            r.id,
        )
    # Piped: one line per key, however wide (a terminal wraps to its width).
    Console(width=None if sys.stdout.isatty() else 250).print(table)


def _quota(quota: KeyQuota) -> str:
    units = ("rpm", "at once", "turns/day", "tokens/day")
    parts = [f"{_short(value)} {unit}" for value, unit in zip(quota.values(), units, strict=True) if value]
    return ", ".join(parts) or "-"


def _usage(turns: int, tokens: int) -> str:
    return f"{turns} turn{'' if turns == 1 else 's'}, {_short(tokens)} tokens"


def _short(number: int) -> str:
    for size, suffix in ((1_000_000, "m"), (1_000, "k")):
        if number >= size:
            return f"{number / size:.1f}".rstrip("0").rstrip(".") + suffix
    return str(number)


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key's id or its listed prefix.")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    record, _ = _on_key(config, key, lambda conn, found: key_store.revoke_api_key(conn, found.id))
    typer.echo(f"Revoked {record.prefix}… ({record.name}).", err=True)


def _on_key(
    config: Path | None, key: str, action: Callable[[AsyncConnection, ApiKeyRecord], Awaitable[T]]
) -> tuple[ApiKeyRecord, T]:
    """Run ``action`` on the key with this id or prefix; exit 1 when none matches, 2 when several do."""

    async def go(conn: AsyncConnection) -> tuple[ApiKeyRecord, T] | None:
        # The listed prefix pastes with its ellipsis: "bp_AKaMb93u…".
        record = await key_store.find_key(conn, key.strip().rstrip("…").rstrip("."))
        return None if record is None else (record, await action(conn, record))

    try:
        found = _run(config, go)
    except ValueError as exc:  # AmbiguousKeyError
        typer.echo(f"botport: {exc}", err=True)
        raise typer.Exit(2) from exc
    if found is None:
        typer.echo(f"botport: no key matches {key!r}", err=True)
        raise typer.Exit(1)
    return found
