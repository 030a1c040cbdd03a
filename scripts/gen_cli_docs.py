"""Generate docs/cli.md from the typer app: every command's usage, help and options.

python scripts/gen_cli_docs.py          # rewrite docs/cli.md
python scripts/gen_cli_docs.py --check  # exit 1 if docs/cli.md is out of date (CI)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
import typer.main

DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEADER = """\
# botport command line

Generated from the code by `python scripts/gen_cli_docs.py`; do not edit by hand (a test fails when
this file and the commands drift apart). Every option can also be set in the environment where an
env variable is listed; settings (Coze token, bots, data dir, ...) are read as by `botport serve`.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# Typer ships its own copy of click, so commands and parameters are read by their attributes.


def _default(param: Any) -> str:
    if param.required:
        return "required"
    default = param.default
    if default is None or default == () or callable(default):
        return ""
    if isinstance(default, bool):
        return "on" if default else "off"
    return f"`{default}`"


def _options_table(command: Any) -> list[str]:
    rows = ["| option | env | default | description |", "|---|---|---|---|"]
    for param in command.params:
        if param.param_type_name == "argument":
            name = f"`{str(param.name).upper()}` (argument)"
        elif getattr(param, "hidden", False):
            continue
        else:
            name = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
        help_text = getattr(param, "help", None) or ""
        envvar = param.envvar if isinstance(param.envvar, str) else ", ".join(param.envvar or ())
        rows.append(
            f"| {name} | {f'`{envvar}`' if envvar else ''} | {_default(param)} | {_cell(help_text)} |"
        )
    return rows if len(rows) > 2 else []


def _commands(group: Any, prefix: str) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):
            found.extend(_commands(command, path))
        else:
            found.append((path, command))
    return found


def render() -> str:
    from botport.cli import app

    root = typer.main.get_command(app)
    parts = [HEADER]
    summary = ["| command | what it does |", "|---|---|"]
    sections: list[str] = []
    for path, command in _commands(root, "botport"):
        first_line = (command.help or "").strip().split("\n")[0]
        anchor = path.replace(" ", "-")
        summary.append(f"| [`{path}`](#{anchor}) | {_cell(first_line)} |")
        with typer.Context(command, info_name=path) as ctx:
            usage = " ".join(command.collect_usage_pieces(ctx))
        lines = [f"## {path}", "", (command.help or "").strip(), "", "```", f"{path} {usage}", "```", ""]
        table = _options_table(command)
        if table:
            lines.extend([*table, ""])
        sections.append("\n".join(lines))
    parts.append("\n".join(summary) + "\n")
    parts.extend(sections)
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOCS.exists() or DOCS.read_text() != text:
            print(f"{DOCS} is out of date: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    DOCS.write_text(text)
    print(f"wrote {DOCS}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
