"""Configured bots and no Coze token: ``serve`` and ``chat`` refuse to start (exit 2) and say what to
do, rather than start in demo mode and fail every message. Bots of the emulator may be configured
without a token (demo mode serves them)."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import botport, clean_env

from botport.emulator.bots import DEMO_BOT_ID

# The README's two-bot example.
TWO_BOTS = """
[[bots]]
slug = "support"
bot_id = "7494103024999219218"
name = "Support"

[[bots]]
slug = "writer"
bot_id = "7497970613215658020"
name = "Writer"
"""

REFUSAL = (
    "botport: no Coze token is set (BOTPORT_COZE_TOKEN), and demo mode's emulator only knows its demo "
    "bots: set the token for the configured bots support (7494103024999219218), writer "
    "(7497970613215658020), or remove them to try the demo\n"
)


def _config(tmp_path: Path) -> str:
    path = tmp_path / "botport.toml"
    path.write_text(TWO_BOTS, encoding="utf-8")
    return str(path)


def test_serve_refuses_before_it_listens(tmp_path: Path) -> None:
    result = botport("serve", "--config", _config(tmp_path), "--port", "0", env=clean_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.endswith(REFUSAL)
    assert "DEMO MODE" not in result.stderr  # it never started
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "botport.db").exists()


def test_chat_refuses(tmp_path: Path) -> None:
    result = botport("chat", "-m", "hello", "--config", _config(tmp_path), env=clean_env(tmp_path))
    assert result.returncode == 2
    assert result.stderr.endswith(REFUSAL)
    assert result.stdout == ""


def test_one_bot_by_environment_is_refused_too(tmp_path: Path) -> None:
    env = clean_env(tmp_path, BOTPORT_BOT_ID="7494103024999219218")
    result = botport("chat", "-m", "hello", env=env)
    assert result.returncode == 2
    assert "set the token for the configured bot default (7494103024999219218), or remove it" in result.stderr


def test_a_configured_emulator_bot_is_served_without_a_token(tmp_path: Path) -> None:
    result = botport("chat", "-m", "hello there", env=clean_env(tmp_path, BOTPORT_BOT_ID=DEMO_BOT_ID))
    assert result.returncode == 0, result.stderr
    assert "demo mode" in result.stderr
    assert "> hello there" in result.stdout
