"""``botport schema --target mcp``: client configurations for Claude Desktop, Cursor and VS Code, both
transports, with placeholders for secrets; pasted as they are (the key filled in), they connect. And
/mcp is in the OpenAPI document of /docs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import yaml
from mcp.client.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_helpers import McpServer, botport_mcp
from typer.testing import CliRunner

from botport.cli import app

PUBLIC_URL = "https://bot.example.com"
SECRET = "pat_MCP_CONFIG_SECRET_never_printed_0123"


def _schema(*args: str, data_dir: Path, **env: str) -> tuple[int, str, str]:
    """``botport schema --target mcp ARGS`` with exactly these BOTPORT_* variables (others unset)."""
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith("BOTPORT_")}
    environment.update({"BOTPORT_DATA_DIR": str(data_dir), **env})
    result = CliRunner().invoke(app, ["schema", "--target", "mcp", *args], env=environment)
    return result.exit_code, result.stdout, result.stderr


def _configs(*args: str, data_dir: Path, **env: str) -> dict[str, Any]:
    code, stdout, stderr = _schema(*args, data_dir=data_dir, **env)
    assert code == 0, stderr
    parsed: dict[str, Any] = yaml.safe_load(stdout) if "yaml" in args else json.loads(stdout)
    return parsed


def test_each_client_gets_both_transports_with_placeholders_for_secrets(tmp_path: Path) -> None:
    code, stdout, _ = _schema("--public-url", PUBLIC_URL, data_dir=tmp_path, BOTPORT_COZE_TOKEN=SECRET)
    assert code == 0
    assert SECRET not in stdout
    configs = json.loads(stdout)
    assert list(configs) == ["claude_desktop", "cursor", "vscode"]
    for client in configs.values():
        assert set(client) == {"file", "http", "stdio"}

    bearer = {"Authorization": "Bearer bp_YOUR_API_KEY"}
    cursor = configs["cursor"]
    assert cursor["http"] == {"mcpServers": {"botport": {"url": f"{PUBLIC_URL}/mcp", "headers": bearer}}}
    vscode = configs["vscode"]["http"]
    assert vscode["servers"]["botport"]["type"] == "http"
    assert vscode["servers"]["botport"]["url"] == f"{PUBLIC_URL}/mcp"
    assert vscode["servers"]["botport"]["headers"] == {"Authorization": "Bearer ${input:botport-api-key}"}
    assert vscode["inputs"][0]["id"] == "botport-api-key" and vscode["inputs"][0]["password"] is True
    # Claude Desktop's file takes commands only: the stdio bridge to the URL.
    claude = configs["claude_desktop"]["http"]["mcpServers"]["botport"]
    assert Path(claude["command"]).name.startswith("botport")
    assert claude["args"] == ["mcp", "--url", PUBLIC_URL]
    assert claude["env"] == {"BOTPORT_API_KEY": "bp_YOUR_API_KEY"}

    launch = configs["cursor"]["stdio"]["mcpServers"]["botport"]
    assert launch["args"] == ["mcp"]
    assert launch["env"] == {"BOTPORT_DATA_DIR": str(tmp_path), "BOTPORT_COZE_TOKEN": "pat_YOUR_COZE_TOKEN"}
    assert configs["vscode"]["stdio"]["servers"]["botport"] == {"type": "stdio", **launch}
    assert configs["claude_desktop"]["stdio"]["mcpServers"]["botport"] == launch


def test_a_config_file_is_passed_on_and_yaml_is_offered(tmp_path: Path) -> None:
    config = tmp_path / "botport.toml"
    config.write_text('public_url = "https://from.config.example"\n')
    configs = _configs("--format", "yaml", "--config", str(config), data_dir=tmp_path)
    launch = configs["cursor"]["stdio"]["mcpServers"]["botport"]
    assert launch["args"] == ["mcp", "--config", str(config.resolve())]
    assert "BOTPORT_COZE_TOKEN" not in launch["env"]  # demo mode: no token to set
    assert configs["cursor"]["http"]["mcpServers"]["botport"]["url"] == "https://from.config.example/mcp"


def test_without_a_public_url_the_local_server_is_assumed(tmp_path: Path) -> None:
    code, stdout, stderr = _schema(data_dir=tmp_path)
    assert code == 0
    assert "no --public-url: the configurations use http://127.0.0.1:8400" in stderr
    assert json.loads(stdout)["cursor"]["http"]["mcpServers"]["botport"]["url"] == "http://127.0.0.1:8400/mcp"
    code, _, stderr = _schema("--coze", data_dir=tmp_path)
    assert code == 2
    assert "leave it out with --target mcp" in stderr


@pytest.mark.live
async def test_the_configurations_connect_once_the_key_is_filled_in(
    tmp_path: Path, mcp_server: McpServer
) -> None:
    configs = _configs("--public-url", mcp_server.url, data_dir=tmp_path)

    # Cursor over HTTP: the URL and the header.
    cursor = configs["cursor"]["http"]["mcpServers"]["botport"]
    headers = {"Authorization": cursor["headers"]["Authorization"].replace("bp_YOUR_API_KEY", mcp_server.key)}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(cursor["url"], http_client=http)) as client,
    ):
        assert "ask_demo" in [tool.name for tool in (await client.list_tools()).tools]

    # Claude Desktop: the command it launches, with the key in its environment.
    claude = configs["claude_desktop"]["http"]["mcpServers"]["botport"]
    env = {**(botport_mcp(data_dir=tmp_path).env or {}), **claude["env"], "BOTPORT_API_KEY": mcp_server.key}
    params = StdioServerParameters(command=claude["command"], args=claude["args"], env=env)
    async with Client(params, read_timeout_seconds=30) as client:
        answer = await client.call_tool("ask_demo", {"question": "hello"})
        assert not answer.is_error


async def test_mcp_is_documented_in_the_openapi_document(tmp_path: Path) -> None:
    from botport.app import create_app
    from botport.settings import Settings

    botport = create_app(Settings(data_dir=tmp_path))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(botport), base_url="http://botport.test"
    ) as http:
        document = (await http.get("/openapi.json")).json()
    item = document["paths"]["/mcp"]
    assert list(item) == ["post"]
    operation = item["post"]
    assert operation["tags"] == ["mcp"]
    assert {"200", "202", "401", "406"} <= set(operation["responses"])
    assert "docs/mcp.md" in operation["description"]
