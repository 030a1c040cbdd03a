"""The commands with a Coze OAuth app, as real processes: ``botport emulator --oauth-*`` (Coze's own SDK
gets a token from it), ``botport serve`` (a wrong key file stops it at once; its log never holds the key,
a JWT or an access token, even when Coze echoes them), ``botport serve --workers 2`` (as with a token),
and the MCP client configuration (the app's settings, no token placeholder)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from cli_helpers import COMMAND, START_DEADLINE, botport, clean_env
from cozepy import JWTOAuthApp
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.schema.mcp_clients import client_configs
from botport.settings import Settings
from live_server import LiveServer, free_port
from oauth_keys import APP_ID, KEY_ID, KeyPair, emulated_app, key_pair, oauth_env

pytestmark = pytest.mark.live

REDIS_URL = os.environ.get("BOTPORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TIMEOUT = httpx.Timeout(30.0)


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return key_pair(tmp_path / "keys")


class SeenAuthorization:
    """The emulator, keeping every Authorization header it is sent (the secrets to look for)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.values: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"authorization":
                    self.values.add(value.decode().removeprefix("Bearer "))
        await self.app(scope, receive, send)


@contextlib.contextmanager
def running(
    args: list[str], env: dict[str, str], log_path: Path, ready: str, count: int = 1
) -> Iterator[Any]:
    """A ``botport`` command, up once ``ready`` is in its log ``count`` times; SIGTERM after."""
    with log_path.open("wb") as log:
        process = subprocess.Popen([*COMMAND, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_DEADLINE
        while log_path.read_text(errors="replace").count(ready) < count:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"botport {args[0]} did not start:\n{log_path.read_text(errors='replace')}"
                )
            time.sleep(0.05)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def ask(url: str, question: str = "hello") -> dict[str, Any]:
    """One turn through a new connection (a new browser): the stored answer."""
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        created = client.post("/api/conversations", json={})
        assert created.status_code == 201, created.text
        answer = client.post(
            f"/api/conversations/{created.json()['id']}/messages", json={"content": question, "stream": False}
        )
        result: dict[str, Any] = {"http_status": answer.status_code, **answer.json()}
        return result


# --- botport emulator --oauth-* -------------------------------------------------------------------


def test_the_emulator_command_serves_an_oauth_app_to_coze_s_sdk(tmp_path: Path, keys: KeyPair) -> None:
    port = free_port()
    args = [
        "emulator",
        "--port",
        str(port),
        *("--oauth-app-id", APP_ID, "--oauth-key-id", KEY_ID),
        *("--oauth-public-key-file", str(keys.public_file), "--oauth-max-duration", "60"),
    ]
    with running(args, clean_env(tmp_path), tmp_path / "emulator.log", "Coze emulator on"):
        wait_for_port(port)
        oauth = JWTOAuthApp(APP_ID, keys.private_pem.decode(), KEY_ID, base_url=f"http://127.0.0.1:{port}")
        try:
            token = oauth.get_access_token(ttl=900)
        finally:
            oauth._requester.sync_client.close()
    assert token.access_token.startswith("czs_")
    assert token.expires_in <= int(time.time()) + 60  # the --oauth-max-duration
    log = (tmp_path / "emulator.log").read_text()
    assert f"(tokens: 1 configured, OAuth app {APP_ID})" in log


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--oauth-app-id", APP_ID], "an OAuth app needs all three of --oauth-app-id, --oauth-key-id"),
        (["--oauth-public-key-file", "PRIVATE"], "is not a PEM public key"),
        (["--oauth-public-key-file", "MISSING"], "cannot read --oauth-public-key-file"),
    ],
    ids=["incomplete", "not-a-public-key", "missing"],
)
def test_the_emulator_command_refuses_an_incomplete_or_wrong_app(
    tmp_path: Path, keys: KeyPair, flags: list[str], says: str
) -> None:
    files = {"PRIVATE": str(keys.private_file), "MISSING": str(tmp_path / "missing.pem")}
    flags = [files.get(flag, flag) for flag in flags]
    if "--oauth-public-key-file" in flags:
        flags += ["--oauth-app-id", APP_ID, "--oauth-key-id", KEY_ID]
    result = botport("emulator", "--port", str(free_port()), *flags, env=clean_env(tmp_path))
    assert result.returncode == 2
    assert says in result.stderr


# --- botport serve --------------------------------------------------------------------------------


def test_serve_stops_at_once_on_a_key_file_it_cannot_use(tmp_path: Path, keys: KeyPair) -> None:
    settings = {
        **oauth_env(keys),
        "BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE": str(keys.public_file),  # the public half, by mistake
    }
    env = clean_env(
        tmp_path, BOTPORT_COZE_BASE_URL="http://127.0.0.1:9", BOTPORT_BOT_ID=DEMO_BOT_ID, **settings
    )
    result = botport("serve", "--port", str(free_port()), env=env)
    assert result.returncode == 2
    assert (
        f"botport: the Coze OAuth app's private key file {keys.public_file} "
        "(BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE) does not hold a PEM private key" in result.stderr
    )


def test_serve_with_an_oauth_app_never_logs_a_secret(tmp_path: Path, keys: KeyPair) -> None:
    emulator = create_emulator_app(
        [], oauth_app=emulated_app(keys, max_duration=3), echo_authorization=True, poll_limit=False
    )
    seen = SeenAuthorization(emulator)
    coze = LiveServer(seen).start()
    port = free_port()
    env = clean_env(
        tmp_path / "data",
        BOTPORT_COZE_BASE_URL=coze.url,
        BOTPORT_BOT_ID=DEMO_BOT_ID,
        BOTPORT_PORT=str(port),
        BOTPORT_LOG_LEVEL="debug",
        **oauth_env(keys),
    )
    log_path = tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    try:
        with running(["serve"], env, log_path, "Application startup complete."):
            assert ask(url)["http_status"] == 200
            emulator.state.oauth.deactivated = True  # the next exchange is refused, its JWT echoed
            time.sleep(3.2)  # the token runs out
            failed = ask(url, "again")
            assert failed["http_status"] == 502 and failed["error"]["code"] == "coze_oauth_failed"
            emulator.state.oauth.deactivated = False
            time.sleep(2.1)  # botport asks Coze again 2 s after a failed exchange
            assert ask(url, "and now")["http_status"] == 200
    finally:
        coze.stop()
    log = log_path.read_text(errors="replace")
    assert f"[{coze.url}, Coze OAuth app {APP_ID}]" in log
    assert f"Coze OAuth app {APP_ID}: new access token" in log
    assert f"no access token for the Coze OAuth app {APP_ID}: Coze refused it (access_deny" in log
    assert "[redacted]" in log  # Coze's echo of the JWT, masked
    assert len(seen.values) >= 4  # two JWTs refused or exchanged, two tokens at least
    assert not [secret for secret in seen.values if secret in log]
    assert not [line for line in keys.secret_lines() if line in log]


@pytest.mark.postgres
def test_two_workers_with_an_oauth_app(
    tmp_path: Path, keys: KeyPair, postgres_url: str, redis_client: redis.Redis
) -> None:
    emulator = create_emulator_app([], oauth_app=emulated_app(keys))
    coze = LiveServer(emulator).start()
    port = free_port()
    env = clean_env(
        tmp_path / "data",
        BOTPORT_COZE_BASE_URL=coze.url,
        BOTPORT_BOT_ID=DEMO_BOT_ID,
        BOTPORT_DATABASE_URL=postgres_url,
        BOTPORT_REDIS_URL=REDIS_URL,
        BOTPORT_PORT=str(port),
        **oauth_env(keys),
    )
    log_path = tmp_path / "serve.log"
    try:
        with running(["serve", "--workers", "2"], env, log_path, "Application startup complete.", count=2):
            answers = [ask(f"http://127.0.0.1:{port}", f"question {n}") for n in range(8)]
    finally:
        coze.stop()
    assert [answer["http_status"] for answer in answers] == [200] * 8, answers
    assert all(answer["status"] == "completed" and answer["content"] for answer in answers)
    log = log_path.read_text(errors="replace")
    assert "2 workers, as asked" in log
    # Each worker gets its own token when it first needs one: one or two exchanges, never one a turn.
    assert 1 <= emulator.state.oauth.exchanges <= 2
    assert log.count(f"Coze OAuth app {APP_ID}: new access token") == emulator.state.oauth.exchanges


# --- the MCP client configuration -----------------------------------------------------------------


def test_mcp_configs_carry_the_app_s_settings_and_no_token_placeholder(tmp_path: Path, keys: KeyPair) -> None:
    settings = Settings(
        coze_oauth_app_id=APP_ID,
        coze_oauth_key_id=KEY_ID,
        coze_oauth_private_key_file=keys.private_file,
        bot_id=DEMO_BOT_ID,
        data_dir=tmp_path,
    )
    launch = client_configs("http://127.0.0.1:8400", settings)["cursor"]["stdio"]["mcpServers"]["botport"]
    assert launch["env"] == {
        "BOTPORT_COZE_OAUTH_APP_ID": APP_ID,
        "BOTPORT_COZE_OAUTH_KEY_ID": KEY_ID,
        "BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE": str(keys.private_file.resolve()),
        "BOTPORT_BOT_ID": DEMO_BOT_ID,
        "BOTPORT_DATA_DIR": str(tmp_path.resolve()),
    }
    assert all(line not in json.dumps(launch) for line in keys.secret_lines())
