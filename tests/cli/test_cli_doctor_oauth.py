"""``botport doctor`` with a Coze OAuth app, against the emulator's token endpoint on a real server: the
key file (readable, RSA, private), the exchange and the token's expiry, then the usual checks with that
token; a wrong key, an unknown app, a missing file and a key others may read, each with what to fix."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import botport, clean_env

from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from live_server import LiveServer
from oauth_keys import APP_ID, KEY_ID, KeyPair, emulated_app, key_pair, oauth_env

pytestmark = pytest.mark.live


@pytest.fixture
def keys(tmp_path: Path) -> KeyPair:
    return key_pair(tmp_path / "keys")


@pytest.fixture
def emulator_url(live_server: Callable[..., LiveServer], keys: KeyPair) -> str:
    return live_server(create_emulator_app([], oauth_app=emulated_app(keys))).url


def _env(tmp_path: Path, base_url: str, keys: KeyPair, **overrides: str) -> dict[str, str]:
    return clean_env(
        tmp_path / "data",
        BOTPORT_COZE_BASE_URL=base_url,
        BOTPORT_BOT_ID=DEMO_BOT_ID,
        **{**oauth_env(keys), **overrides},
    )


def _plain(report: str) -> str:
    """The report as one line of single spaces (its table pads, its fixes wrap)."""
    return " ".join(report.split())


def _leaks(keys: KeyPair, *texts: str) -> list[str]:
    return [line for line in keys.secret_lines() for text in texts if line in text]


def test_the_key_the_exchange_and_the_token_s_expiry(
    tmp_path: Path, emulator_url: str, keys: KeyPair
) -> None:
    result = botport("doctor", env=_env(tmp_path, emulator_url, keys))
    assert result.returncode == 0, result.stdout + result.stderr
    out = _plain(result.stdout)
    assert (
        f"✓ OAuth key file {keys.private_file}: an RSA private key (2048 bits), readable by its owner only"
        in out
    )
    assert (
        f"✓ Coze OAuth app app {APP_ID} (key {KEY_ID}) got an access token; it expires in 15 minutes" in out
    )
    # The other checks ran with the app's token.
    assert f"✓ Coze base URL {emulator_url} answers" in out and "✓ Coze token accepted" in out
    assert "✓ bot default published to the API channel (Demo)" in out
    assert "All checks passed." in out
    assert not _leaks(keys, result.stdout, result.stderr)
    assert "czs_" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("case", "says"),
    [
        ("another-key", "invalid jwt: signature verification failed"),
        ("unknown-app", "invalid jwt: app 1150000000000000999 not found"),
        ("unknown-key-id", "invalid jwt: kid not been registered"),
    ],
)
def test_a_refused_exchange_says_what_to_check(
    tmp_path: Path, emulator_url: str, keys: KeyPair, case: str, says: str
) -> None:
    other = key_pair(tmp_path / "other", "other")
    env = {
        "another-key": oauth_env(other),
        "unknown-app": oauth_env(keys, app_id="1150000000000000999"),
        "unknown-key-id": oauth_env(keys, key_id="kid_not_this_one"),
    }[case]
    result = botport("doctor", env=_env(tmp_path, emulator_url, keys, **env))
    assert result.returncode == 1
    out = _plain(result.stdout)
    app_id = env["BOTPORT_COZE_OAUTH_APP_ID"]
    refused = f"no access token for the Coze OAuth app {app_id}: Coze refused it (invalid_client: {says})"
    assert f"✗ Coze OAuth app {refused}" in out
    assert re.search(r"\(logid \w+\)", out)
    assert (
        "Coze OAuth app: on https://www.coze.com/open/oauth/apps (an app of coze.com is unknown to "
        "coze.cn and the other way round): BOTPORT_COZE_OAUTH_APP_ID is the app's id, "
        "BOTPORT_COZE_OAUTH_KEY_ID the fingerprint of its public key, and the key file holds that key's "
        "private half" in out
    )
    assert "Coze token" not in out and "bots visible" not in out  # nothing to ask Coze without a token
    assert "1 check(s) failed." in out
    assert not _leaks(other, result.stdout, result.stderr) and not _leaks(keys, result.stdout, result.stderr)


def test_a_missing_key_file_is_a_failure_before_any_exchange(
    tmp_path: Path, emulator_url: str, keys: KeyPair
) -> None:
    missing = tmp_path / "nowhere.pem"
    result = botport(
        "doctor", env=_env(tmp_path, emulator_url, keys, BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE=str(missing))
    )
    assert result.returncode == 1
    out = _plain(result.stdout)
    setting = "(BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE)"
    assert f"✗ OAuth key file the Coze OAuth app's private key file {missing} {setting} does not exist" in out
    assert "OAuth key file: point BOTPORT_COZE_OAUTH_PRIVATE_KEY_FILE at the private_key.pem" in out
    assert "✓ Coze OAuth app" not in out and "✗ Coze OAuth app" not in out


def test_a_key_file_others_may_read_is_a_warning(tmp_path: Path, emulator_url: str, keys: KeyPair) -> None:
    keys.private_file.chmod(0o644)
    result = botport("doctor", env=_env(tmp_path, emulator_url, keys))
    assert result.returncode == 0, result.stdout
    out = _plain(result.stdout)
    key = f"{keys.private_file}: an RSA private key (2048 bits)"
    assert f"! OAuth key file {key}, readable by others than its owner (mode 644)" in out
    assert f"OAuth key file: chmod 600 {keys.private_file} (and let only botport's user own it)" in out
    assert "✓ Coze OAuth app" in out


def test_an_unreachable_token_endpoint(tmp_path: Path, keys: KeyPair) -> None:
    server = LiveServer(create_emulator_app(["x-token"])).start()
    url = server.url
    server.stop()
    result = botport("doctor", env=_env(tmp_path, url, keys))
    assert result.returncode == 1
    out = _plain(result.stdout)
    assert f"cannot reach {url}/api/permission/oauth2/token (ConnectError)" in out
    assert "Coze OAuth app: check BOTPORT_COZE_BASE_URL" in out
