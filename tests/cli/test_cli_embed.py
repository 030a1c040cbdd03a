"""``botport embed-snippet --bot B --site S``: the widget's snippet for a site (stdout), what stops it from
showing there on stderr, and how the site's server signs a user id when the site has a secret. The
secret itself is never printed."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import sys
from pathlib import Path

from cli_helpers import botport, clean_env

SHOP = "https://shop.example.com"
SECRET = "the-shop-secret-0123456789abcdef"
SUPPORT = """
[[bots]]
slug = "support"
bot_id = "7494103024999219218"
embed_origins = ["https://shop.example.com"]
"""


def _config(tmp_path: Path) -> str:
    path = tmp_path / "botport.toml"
    path.write_text(SUPPORT, encoding="utf-8")
    return str(path)


def test_the_snippet_for_an_allowed_site(tmp_path: Path) -> None:
    env = clean_env(tmp_path, BOTPORT_COZE_TOKEN="pat_x", BOTPORT_PUBLIC_URL="https://bot.example.com/")
    result = botport(
        "embed-snippet", "--bot", "support", "--site", SHOP + "/", "-c", _config(tmp_path), env=env
    )
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first == '<script src="https://bot.example.com/embed.js" data-bot="support" async></script>'
    assert "frame-src https://bot.example.com" in result.stdout
    assert "script-src https://bot.example.com" in result.stdout
    assert "not in bot" not in result.stderr and "public_url" not in result.stderr
    assert "BOTPORT_EMBED_SECRETS" in result.stderr  # how to sign users in, since the site has no secret
    assert "hmac" not in result.stdout


def test_warnings_when_the_site_is_not_allowed_and_no_public_url(tmp_path: Path) -> None:
    result = botport("embed-snippet", "--bot", "demo", "--site", SHOP, env=clean_env(tmp_path))
    assert result.returncode == 0
    assert 'src="https://YOUR-BOTPORT-ADDRESS/embed.js" data-bot="demo"' in result.stdout
    assert "public_url is not set (BOTPORT_PUBLIC_URL)" in result.stderr
    assert f"{SHOP} is not in bot 'demo''s embed_origins" in result.stderr
    assert "BOTPORT_EMBED_ORIGINS" in result.stderr  # demo mode: where its demo bots' sites are set
    allowed = botport(
        "embed-snippet", "--bot", "demo", "--site", SHOP, env=clean_env(tmp_path, BOTPORT_EMBED_ORIGINS=SHOP)
    )
    assert "embed_origins" not in allowed.stderr


def test_with_a_secret_it_shows_how_to_sign_and_the_examples_work(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        BOTPORT_COZE_TOKEN="pat_x",
        BOTPORT_PUBLIC_URL="https://bot.example.com",
        BOTPORT_EMBED_SECRETS=json.dumps({SHOP: SECRET}),
    )
    result = botport("embed-snippet", "--bot", "support", "--site", SHOP, "-c", _config(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert 'data-user-id="USER_ID" data-user-hash="USER_HASH"' in result.stdout
    # The Python example, run as printed, signs as botport checks (the same HMAC-SHA256, hex).
    python = re.search(r"Python:\n((?:    .+\n)+)", result.stdout)
    assert python, result.stdout
    code = "\n".join(line[4:] for line in python.group(1).splitlines()) + "\nprint(user_hash)"
    ran = subprocess.run(
        [sys.executable, "-c", "user_id = 42\n" + code],
        env={"EMBED_SECRET": SECRET},
        capture_output=True,
        text=True,
        check=True,
    )
    assert ran.stdout.strip() == hmac.new(SECRET.encode(), b"42", hashlib.sha256).hexdigest()
    assert 'createHmac("sha256", secret).update(String(userId)).digest("hex")' in result.stdout


def test_bad_input_exits_2_with_a_reason(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    for site in ("*", "https://shop.example.com/path", "shop.example.com"):
        result = botport("embed-snippet", "--bot", "demo", "--site", site, env=env)
        assert result.returncode == 2
        assert "scheme://host[:port]" in result.stderr and result.stdout == ""
    unknown = botport("embed-snippet", "--bot", "nobody", "--site", SHOP, env=env)
    assert unknown.returncode == 2
    assert "unknown bot 'nobody'; this server offers: demo, weather, slow, failing" in unknown.stderr
    bad_setting = botport(
        "embed-snippet", "--bot", "demo", "--site", SHOP, env=clean_env(tmp_path, BOTPORT_EMBED_ORIGINS="*")
    )
    assert bad_setting.returncode == 2 and "embed_origins" in bad_setting.stderr
