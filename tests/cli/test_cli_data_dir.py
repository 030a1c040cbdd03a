"""Every command that touches the data says where it is; unset, it is the user's data folder, the same
from whichever folder a command runs (not ``./botport-data``, which made a second, empty database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import botport, clean_env


def _env_without_data_dir(tmp_path: Path) -> dict[str, str]:
    env = clean_env(tmp_path, XDG_DATA_HOME=str(tmp_path / "xdg"))
    del env["BOTPORT_DATA_DIR"]
    return env


def test_unset_data_dir_is_the_users_folder_whatever_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env_without_data_dir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    created = botport("keys", "create", "laptop", env=env)
    assert created.returncode == 0, created.stderr
    monkeypatch.chdir(tmp_path / "b")
    listed = botport("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "laptop" in listed.stdout
    folder = tmp_path / "xdg" / "botport"
    assert (folder / "botport.db").is_file()
    assert not (tmp_path / "a" / "botport-data").exists() and not (tmp_path / "b" / "botport-data").exists()
    for result in (created, listed):
        assert f"botport: data in {folder} (the default; set BOTPORT_DATA_DIR" in result.stderr


def test_a_set_data_dir_is_named_as_the_setting(tmp_path: Path) -> None:
    result = botport("keys", "list", env=clean_env(tmp_path / "mine"))
    assert result.returncode == 0, result.stderr
    assert f"botport: data in {tmp_path / 'mine'} (data_dir setting)" in result.stderr


def test_data_of_an_earlier_botport_in_the_current_folder_is_pointed_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env_without_data_dir(tmp_path)
    monkeypatch.chdir(tmp_path)
    earlier = clean_env(tmp_path / "botport-data")  # what botport 0.1 made here by default
    assert botport("keys", "create", "old", env=earlier).returncode == 0
    result = botport("keys", "list", env=env)
    assert f"set BOTPORT_DATA_DIR={tmp_path / 'botport-data'} to keep using it" in result.stderr
    assert "old" not in result.stdout  # not silently mixed: the user decides


def test_schema_needs_no_data_and_does_not_mention_it(tmp_path: Path) -> None:
    result = botport("schema", "--public-url", "https://bot.example.com", env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "data in" not in result.stderr
