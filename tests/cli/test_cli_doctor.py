"""``botport doctor`` against a live emulator (good and bad token, unpublished bot, --live), an
unreachable base URL, and demo mode."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import botport, clean_env

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.store.migrations import MIGRATIONS
from live_server import LiveServer, free_port

pytestmark = pytest.mark.live

TOKEN = "pat_doctor_test_token"


@pytest.fixture
def emulator_url(live_server: Callable[..., LiveServer]) -> str:
    return live_server(create_emulator_app(tokens=[TOKEN])).url


def _env(tmp_path: Path, base_url: str, token: str = TOKEN, bot_id: str = DEMO_BOT_ID) -> dict[str, str]:
    return clean_env(
        tmp_path, BOTPORT_COZE_BASE_URL=base_url, BOTPORT_COZE_TOKEN=token, BOTPORT_BOT_ID=bot_id
    )


def test_good_token_all_pass(tmp_path: Path, emulator_url: str) -> None:
    result = botport("doctor", env=_env(tmp_path, emulator_url))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "✗" not in out
    assert "✓  Coze base URL" in out and f"{emulator_url} answers" in out
    assert "✓  Coze token" in out and "accepted" in out
    assert "✓  bot default" in out and "published to the API channel (Demo)" in out
    assert "✓  database" in out and "✓  data dir" in out and "✓  secret key" in out
    assert "All checks passed." in out
    assert TOKEN not in out + result.stderr


def test_bad_token_fails_with_the_fix(tmp_path: Path, emulator_url: str) -> None:
    result = botport("doctor", env=_env(tmp_path, emulator_url, token="pat_expired"))
    assert result.returncode == 1
    out = result.stdout
    assert "✗  Coze token" in out and "rejected (4100" in out and "log id" in out
    assert "make a new personal access token at https://www.coze.com/open/oauth/pats" in out
    assert "1 check(s) failed." in out
    assert "pat_expired" not in out + result.stderr


def test_unpublished_bot_fails(tmp_path: Path, emulator_url: str) -> None:
    result = botport("doctor", env=_env(tmp_path, emulator_url, bot_id="7999"))
    assert result.returncode == 1
    assert "✗  bot default" in result.stdout
    assert "not published to the API channel" in result.stdout
    assert "tick 'API'" in result.stdout


def test_live_turn(tmp_path: Path, emulator_url: str) -> None:
    result = botport("doctor", "--live", env=_env(tmp_path, emulator_url))
    assert result.returncode == 0, result.stdout
    assert "✓  bot default answers" in result.stdout
    assert "answered in" in result.stdout


def test_unreachable_base_url(tmp_path: Path) -> None:
    result = botport("doctor", env=_env(tmp_path, f"http://127.0.0.1:{free_port()}"))
    assert result.returncode == 1
    assert "✗  Coze base URL" in result.stdout
    assert "cannot reach" in result.stdout
    assert "check BOTPORT_COZE_BASE_URL" in result.stdout


def test_not_an_api_url(tmp_path: Path, live_server: Callable[..., LiveServer]) -> None:
    from starlette.applications import Starlette

    site = live_server(Starlette(), lifespan="off")  # answers 404 with plain text to everything
    result = botport("doctor", env=_env(tmp_path, site.url))
    assert result.returncode == 1
    assert "without a Coze envelope" in result.stdout


def test_demo_mode(tmp_path: Path) -> None:
    result = botport("doctor", env=clean_env(tmp_path))
    assert result.returncode == 0, result.stdout
    out = result.stdout
    assert "demo mode" in out
    assert "the built-in emulator answers" in out
    assert "✓  bot demo" in out and "✓  bot weather" in out
    assert "created on first start" in out  # nothing exists yet in the data dir


def test_secret_key_readable_by_others(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("x" * 48)
    os.chmod(secret, 0o644)
    result = botport("doctor", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "✗  secret key" in result.stdout
    assert f"chmod 600 {secret}" in result.stdout


def test_database_after_start_is_current(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    assert botport("keys", "create", "x", env=env).returncode == 0  # creates and migrates the database
    result = botport("doctor", env=env)
    assert result.returncode == 0, result.stdout
    assert f"migrations current ({len(MIGRATIONS)})" in result.stdout
