"""``botport keys``: a key's quota (create --quota, quota), and its usage in ``keys list``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cli_helpers import botport, clean_env

from botport.app import create_app
from botport.settings import Settings
from live_server import LiveServer


def _row(listing: str, name: str) -> str:
    (line,) = [line for line in listing.splitlines() if f" {name} " in line]
    return line


@pytest.mark.live
def test_a_quota_is_kept_enforced_and_its_usage_listed(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    env = clean_env(tmp_path)
    created = botport(
        "keys", "create", "team-bot", "--quota", "turns_per_day=2", "-q", "tokens_per_day=200k", env=env
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    listing = botport("keys", "list", env=env).stdout
    assert "2 turns/day, 200k tokens/day" in _row(listing, "team-bot")
    assert "0 turns, 0 tokens" in _row(listing, "team-bot")

    server = live_server(create_app(Settings(data_dir=tmp_path)))
    ask = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    statuses = [
        httpx.post(f"{server.url}/v1/chat/completions", json=ask, headers=headers, timeout=30).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]

    row = _row(botport("keys", "list", env=env).stdout, "team-bot")
    today, in_all = row.split("│")[5:7]
    assert "2 turns" in today and "2 turns" in in_all and " 0 tokens" not in today

    # More turns for today: applies at once, without a restart.
    prefix = row.split("│")[1].strip()  # as listed, with its ellipsis
    changed = botport("keys", "quota", prefix, "-q", "turns_per_day=none", env=env)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip().endswith("tokens_per_day=200000")
    again = httpx.post(f"{server.url}/v1/chat/completions", json=ask, headers=headers, timeout=30)
    assert again.status_code == 200

    revoked = botport("keys", "revoke", prefix, env=env)
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{server.url}/v1/models", headers=headers).status_code == 401
    assert botport("keys", "quota", "bp_nosuchkey", env=env).returncode == 1


def test_a_wrong_quota_is_refused_with_the_names_it_takes(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    for bad in ("turns=5", "turns_per_day", "turns_per_day=-1", "rpm=lots"):
        refused = botport("keys", "create", "x", "--quota", bad, env=env)
        assert refused.returncode == 2, bad
        assert "requests_per_minute" in refused.stderr or "positive number" in refused.stderr
    assert "x" not in botport("keys", "list", env=env).stdout.split("name")[-1]
