"""``botport doctor``: run the setup checks (:mod:`botport.doctor`) and print what to fix."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from botport.cli.options import ConfigOption, load, say_data_dir
from botport.doctor import Check, Status, run_checks

MARKS: dict[Status, tuple[str, str]] = {
    "ok": ("✓", "green"),
    "warn": ("!", "yellow"),
    "fail": ("✗", "bold red"),
    "info": ("•", "cyan"),
}


def print_report(console: Console, checks: list[Check]) -> None:
    table = Table("", "check", "result", box=None, header_style="bold", pad_edge=False)
    for check in checks:
        mark, style = MARKS[check.status]
        # As text, not rich markup: a bot's name from Coze may hold "[...]".
        table.add_row(Text(mark, style=style), Text(check.name), Text(check.detail))
    console.print(table)
    fixes = [c for c in checks if c.fix and c.status in ("fail", "warn")]
    if fixes:
        console.print()
        console.print(Text("What to fix:", style="bold"))
        for check in fixes:
            console.print(Text.assemble(f"  {MARKS[check.status][0]} {check.name}: ", check.fix))
    failed = sum(c.status == "fail" for c in checks)
    console.print()
    if failed:
        console.print(Text(f"{failed} check(s) failed.", style="bold red"))
    else:
        console.print(Text("All checks passed.", style="bold green"))


def doctor(
    live: Annotated[
        bool, typer.Option("--live", help="Also send each bot a short real question (costs tokens).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Check the Coze token or OAuth app, the URL, the bots, the database, the data dir and the secret key."""
    settings = load(config)
    say_data_dir(settings)
    checks = asyncio.run(run_checks(settings, live=live))
    print_report(Console(highlight=False), checks)
    if any(c.status == "fail" for c in checks):
        raise typer.Exit(1)
