"""``botport doctor`` against a live emulator (good and bad token, the bots the token sees, an
unpublished bot, a token that may not list bots, --live), an unreachable base URL, and demo mode
(with configured bots and no token: refused, as serve and chat refuse them)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import botport, clean_env
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.emulator.workspace_routes import WORKSPACE_ID
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
    # The bots the token sees, per workspace: the configured one marked with its slug.
    out = _plain(out)
    assert f"•  bots visible   Personal ({WORKSPACE_ID}): 4 bots\n" in out
    assert f'Demo ({DEMO_BOT_ID}): published, served as "default"\n' in out
    assert "Weather tool demo (7000000000000000002): published\n" in out
    assert "! " not in out
    assert "✓  database" in out and "✓  data dir" in out and "✓  secret key" in out
    assert "All checks passed." in out
    assert TOKEN not in out + result.stderr


def test_bad_token_fails_with_the_fix(tmp_path: Path, emulator_url: str) -> None:
    result = botport("doctor", env=_env(tmp_path, emulator_url, token="pat_expired"))
    assert result.returncode == 1
    out = result.stdout
    assert "✗  Coze token" in out and "rejected (4100" in out and "(logid " in out
    assert "bots visible" not in out  # nothing to list with a rejected token
    assert "make a new personal access token at https://www.coze.com/open/oauth/pats" in out
    assert "1 check(s) failed." in out
    assert "pat_expired" not in out + result.stderr


def test_unpublished_bot_fails(tmp_path: Path, emulator_url: str) -> None:
    result = botport("doctor", env=_env(tmp_path, emulator_url, bot_id="7999"))
    assert result.returncode == 1
    out = result.stdout
    assert "✗  bot default" in out
    assert "not published to the API channel" in out
    assert "tick 'API'" in out
    # Not among the bots the token sees either: a warning, with what to check.
    assert "!  bots visible   bot default (7999) is not among them" in out
    assert "bots visible: check bot default's id (the number after /bot/ in its URL on Coze)" in out
    assert "1 check(s) failed." in out  # the warning is not a failure


def test_a_token_that_may_not_list_bots_is_told_the_permission(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    coze = live_server(_refusing("/v1/workspaces", create_emulator_app(tokens=[TOKEN])))
    result = botport("doctor", env=_env(tmp_path, coze.url))
    assert result.returncode == 0, result.stdout  # botport does not need the permission
    out = result.stdout
    assert "•  bots visible   not listed: the token lacks the listWorkspace permission (4101) (logid " in out
    assert "add listWorkspace and listBot at https://www.coze.com/open/oauth/pats" in out
    assert "✓  bot default" in out  # the per-bot check still runs


def _refusing(path: str, app: ASGIApp) -> ASGIApp:
    """``app``, answering ``path`` as Coze does for a token without the permission (4101)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == path:
            body = {"code": 4101, "msg": "no permission", "detail": {"logid": "LOGID4101"}}
            await JSONResponse(body, headers={"x-tt-logid": "LOGID4101"})(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


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
    assert f'Demo ({DEMO_BOT_ID}): published, served as "demo"' in out
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


def test_configured_bots_without_a_token(tmp_path: Path) -> None:
    """What serve and chat refuse, doctor fails with the same fix (not "not published")."""
    result = botport("doctor", env=clean_env(tmp_path, BOTPORT_BOT_ID="7494103024999219218"))
    assert result.returncode == 1
    out = _plain(result.stdout)
    assert (
        "✗  bots           no Coze token is set (BOTPORT_COZE_TOKEN), and demo mode's emulator only knows "
        "its demo bots\n"
    ) in out
    assert "bots: set the token for the configured bot default (7494103024999219218), or remove it" in out
    assert "not published" not in out and "bot default" not in out.replace("configured bot default", "")
    assert "1 check(s) failed." in out


def _plain(report: str) -> str:
    """The report without the spaces that pad each line of its table."""
    return "\n".join(line.rstrip() for line in report.splitlines())
