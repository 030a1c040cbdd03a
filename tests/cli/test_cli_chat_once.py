"""``botport chat -m``: the answer alone on stdout, diagnostics on stderr, an exit code for scripts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_helpers import botport, botport_process, clean_env, conversation_of

from botport.app import create_app
from botport.settings import Settings
from live_server import LiveServer, free_port


def test_in_process_demo_prints_the_answer_alone(tmp_path: Path) -> None:
    result = botport("chat", "-m", "hello there", env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("**Turn 1.** You said:\n\n> hello there\n")
    assert "offline Coze emulator" in result.stdout
    assert "botport:" not in result.stdout
    assert "demo mode" in result.stderr
    conversation_of(result.stderr)


def test_question_from_stdin(tmp_path: Path) -> None:
    result = botport("chat", "-m", "-", env=clean_env(tmp_path), stdin="from a pipe\n")
    assert result.returncode == 0, result.stderr
    assert "> from a pipe" in result.stdout


def test_failed_turn_exits_non_zero_with_the_log_id(tmp_path: Path) -> None:
    result = botport("chat", "-m", "/fail please", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "failed on purpose" in result.stderr
    assert "(logid " in result.stderr


def test_unknown_bot_fails(tmp_path: Path) -> None:
    result = botport("chat", "-m", "hi", "--bot", "nope", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "unknown bot 'nope'" in result.stderr
    assert result.stdout == ""


def test_in_process_demo_continues_a_conversation_across_processes(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    first = botport_process("chat", "-m", "first", env=env)
    second = botport_process("chat", "-m", "second", "--conversation", conversation_of(first.stderr), env=env)
    assert second.returncode == 0, second.stderr
    # The new emulator never saw "first": botport replayed the stored turns, so the bot remembers.
    assert "Turn 2." in second.stdout and "first" in second.stdout


@pytest.mark.live
def test_running_botport_keeps_context_across_calls(
    tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(create_app(Settings(data_dir=tmp_path)))
    env = clean_env(tmp_path)
    created = botport("keys", "create", "cli test", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()

    first = botport("chat", "-m", "What is botport?", "--url", server.url, "--key", key, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("**Turn 1.**")
    assert "demo mode" in first.stderr  # the server has no token
    conversation = conversation_of(first.stderr)

    # The URL and key from the environment this time.
    remote_env = clean_env(tmp_path, BOTPORT_URL=server.url, BOTPORT_API_KEY=key)
    second = botport("chat", "-m", "And again?", "--conversation", conversation, env=remote_env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("**Turn 2.**")
    assert "Before that you asked: *What is botport?*" in second.stdout
    assert conversation_of(second.stderr) == conversation


@pytest.mark.live
def test_running_botport_rejects_a_bad_key(tmp_path: Path, live_server: Callable[..., LiveServer]) -> None:
    server = live_server(create_app(Settings(data_dir=tmp_path)))
    result = botport("chat", "-m", "hi", "--url", server.url, "--key", "bp_wrong", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "API key is unknown" in result.stderr
    assert result.stdout == ""


def test_url_needs_a_key(tmp_path: Path) -> None:
    result = botport("chat", "-m", "hi", "--url", "http://127.0.0.1:9", env=clean_env(tmp_path))
    assert result.returncode == 2
    assert "BOTPORT_API_KEY" in result.stderr


def test_unreachable_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = botport("chat", "-m", "hi", "--url", url, "--key", "bp_x", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "cannot reach botport" in result.stderr
