"""The interactive ``botport chat``: driven through a stdin pipe, and through a pseudo-terminal for
Ctrl-C (which stops the running answer and brings the prompt back)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from cli_helpers import COMMAND, botport, clean_env

SESSION = "\n".join(["hello bot", "1", "/new", "/history", "/bots", "/bot nope", "/help", "/exit", ""])


def test_piped_session_with_commands(tmp_path: Path) -> None:
    result = botport("chat", env=clean_env(tmp_path), stdin=SESSION)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Demo mode" in out
    assert "Turn 1." in out and "hello bot" in out
    # "1" picked the first follow-up, asked in the same conversation.
    assert "› What did I ask before?" in out
    assert "Turn 2." in out and "Before that you asked: hello bot" in out
    assert "New conversation with demo." in out
    assert "/open N continues one." in out  # the /history table
    assert "Weather tool demo" in out  # /bots
    assert "no bot 'nope'" in out
    assert "/history" in out and "Ctrl-D" in out  # /help


def test_open_continues_a_conversation(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    session = "\n".join(["remember me", "/history", "/open 1", "/exit", ""])
    result = botport("chat", env=env, stdin=session)
    assert result.returncode == 0, result.stderr
    assert "Conversation remember me with demo:" in result.stdout
    assert result.stdout.count("you › remember me") == 1  # the transcript of /open


def test_end_of_input_quits(tmp_path: Path) -> None:
    result = botport("chat", "--bot", "weather", env=clean_env(tmp_path), stdin="")
    assert result.returncode == 0, result.stderr
    assert "bot weather" in result.stdout


def test_unknown_bot_is_a_usage_error(tmp_path: Path) -> None:
    result = botport("chat", "--bot", "nope", env=clean_env(tmp_path), stdin="")
    assert result.returncode == 2
    assert "no bot 'nope'" in result.stderr


class Terminal:
    """The command on a pseudo-terminal: write keys, wait for text."""

    def __init__(self, env: dict[str, str]) -> None:
        self.fd, child = pty.openpty()
        self.process = subprocess.Popen(COMMAND + ["chat"], stdin=child, stdout=child, stderr=child, env=env)
        os.close(child)
        self.output = ""

    def expect(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear in:\n{self.output}")
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:  # the child closed the terminal
                    break

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def close(self) -> int:
        try:
            return self.process.wait(timeout=30)
        finally:
            os.close(self.fd)


def test_ctrl_c_stops_the_answer_and_returns_to_the_prompt(tmp_path: Path) -> None:
    env = clean_env(tmp_path, TERM="xterm")
    terminal = Terminal(env)
    try:
        terminal.expect("you › ")
        terminal.send("/long /slow a slow long answer\r")
        terminal.expect("How streaming")  # the answer is streaming
        mark = len(terminal.output)
        terminal.send("\x03")
        terminal.expect("(stopped)")
        assert "you › " in terminal.output[mark:] or terminal.expect("you › ") is None
        terminal.send("/exit\r")
        assert terminal.close() == 0
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
