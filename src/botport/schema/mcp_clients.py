"""MCP client configurations to paste (``botport schema --target mcp``): Claude Desktop, Cursor and
VS Code, each for both transports.

- ``http``: the client talks to a running botport's ``/mcp`` with an API key. Claude Desktop's config
  file takes only commands, so for it ``http`` is ``botport mcp --url`` (the stdio bridge).
- ``stdio``: the client launches ``botport mcp``, which runs botport in its own process with this
  machine's settings (demo mode without a Coze token).

Keys and tokens are placeholders: a configuration is pasted into files that get shared and synced.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

from botport.settings import Settings

SERVER_NAME = "botport"
KEY_PLACEHOLDER = "bp_YOUR_API_KEY"
TOKEN_PLACEHOLDER = "pat_YOUR_COZE_TOKEN"  # noqa: S105 - a placeholder, not a token
KEY_INPUT = "botport-api-key"  # VS Code asks for it once and keeps it in its secret storage
DEFAULT_URL = "http://127.0.0.1:8400"  # where `botport serve` listens by default
# Settings that are not secret and that a launched process needs to serve the same bots.
_CARRIED = ("coze_base_url", "bot_id", "bot_name")


def botport_command() -> str:
    """The ``botport`` this Python runs, by full path: clients launch commands with a PATH of their own,
    which seldom holds a virtual environment's."""
    here = Path(sys.executable).parent
    for name in ("botport", "botport.exe"):
        if (here / name).is_file():
            return str(here / name)
    return shutil.which("botport") or "botport"


def _endpoint(public_url: str) -> str:
    base = public_url.rstrip("/")
    return base if base.endswith("/mcp") else f"{base}/mcp"


def _in_process(settings: Settings, config: Path | None) -> dict[str, Any]:
    """``botport mcp`` with this machine's settings: its config file, data folder and, if it serves
    real bots, a place for the Coze token (which only the environment should hold)."""
    args = ["mcp"]
    if config is not None:
        args += ["--config", str(config.resolve())]
    env: dict[str, str] = {}
    if "data_dir" in settings.model_fields_set:
        env["BOTPORT_DATA_DIR"] = str(settings.data_dir.resolve())
    for name in _CARRIED:
        value = getattr(settings, name)
        if name in settings.model_fields_set and value:
            env[f"BOTPORT_{name.upper()}"] = str(value)
    if settings.oauth_app:  # the app's id, its key's id and the key file's path: none of them a secret
        for name in ("coze_oauth_app_id", "coze_oauth_key_id"):
            env[f"BOTPORT_{name.upper()}"] = str(getattr(settings, name))
        key_file = settings.coze_oauth_private_key_file
        env["BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE"] = str(key_file.resolve()) if key_file else ""
    elif settings.coze_token is not None or settings.all_bots():
        env["BOTPORT_COZE_TOKEN"] = TOKEN_PLACEHOLDER
    launch: dict[str, Any] = {"command": botport_command(), "args": args}
    if env:
        launch["env"] = env
    return launch


def _bridge(public_url: str) -> dict[str, Any]:
    return {
        "command": botport_command(),
        "args": ["mcp", "--url", public_url.rstrip("/")],
        "env": {"BOTPORT_API_KEY": KEY_PLACEHOLDER},
    }


def client_configs(public_url: str, settings: Settings, *, config: Path | None = None) -> dict[str, Any]:
    """Per client: where the configuration goes, and the file's content for each transport."""
    endpoint = _endpoint(public_url)
    launch = _in_process(settings, config)
    bearer = {"Authorization": f"Bearer {KEY_PLACEHOLDER}"}
    return {
        "claude_desktop": {
            "file": "claude_desktop_config.json (Claude Desktop: Settings, Developer, Edit Config)",
            "http": {"mcpServers": {SERVER_NAME: _bridge(public_url)}},
            "stdio": {"mcpServers": {SERVER_NAME: launch}},
        },
        "cursor": {
            "file": "~/.cursor/mcp.json, or .cursor/mcp.json in a project",
            "http": {"mcpServers": {SERVER_NAME: {"url": endpoint, "headers": bearer}}},
            "stdio": {"mcpServers": {SERVER_NAME: launch}},
        },
        "vscode": {
            "file": ".vscode/mcp.json in a workspace, or the command MCP: Open User Configuration",
            "http": {
                "inputs": [
                    {
                        "type": "promptString",
                        "id": KEY_INPUT,
                        "description": "botport API key (bp_...)",
                        "password": True,
                    }
                ],
                "servers": {
                    SERVER_NAME: {
                        "type": "http",
                        "url": endpoint,
                        "headers": {"Authorization": f"Bearer ${{input:{KEY_INPUT}}}"},
                    }
                },
            },
            "stdio": {"servers": {SERVER_NAME: {"type": "stdio", **launch}}},
        },
    }
