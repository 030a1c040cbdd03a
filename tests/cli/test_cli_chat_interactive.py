"""The interactive ``botport chat``: driven through a stdin pipe, and through a pseudo-terminal for
Ctrl-C (which stops the running answer and brings the prompt back)."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import select
import subprocess
import termios
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


def _controlling_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """The command on a pseudo-terminal: write keys, wait for text."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.fd, child = pty.openpty()
        self.process = subprocess.Popen(
            [*COMMAND, "chat", *args],
            stdin=child,
            stdout=child,
            stderr=child,
            env=env,
            preexec_fn=_controlling_terminal,  # so that ^C on the terminal sends SIGINT, as in a shell
        )
        os.close(child)
        self.output = ""
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")  # reads split characters

    def expect(self, text: str, *, since: int = 0, timeout: float = 60) -> int:
        """Wait until ``text`` appears after position ``since``; return where its end is."""
        deadline = time.monotonic() + timeout
        while text not in self.output[since:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear in:\n{self.output}")
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.output += self._utf8.decode(os.read(self.fd, 65536))
                except OSError:  # the child closed the terminal
                    break
        return self.output.index(text, since) + len(text)

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def close(self) -> int:
        try:
            return self.process.wait(timeout=30)
        finally:
            os.close(self.fd)


def test_ctrl_c_stops_the_answer_and_returns_to_the_prompt(tmp_path: Path) -> None:
    env = clean_env(tmp_path, TERM="xterm")
    terminal = Terminal(env, "--bot", "slow")  # a word every 0.2 s: a long answer takes a minute
    try:
        terminal.expect("you › ")
        terminal.send("/long a long answer\r")
        streaming = terminal.expect("Turn 1")
        terminal.send("\x03")
        stopped = terminal.expect("(stopped)", since=streaming)
        terminal.expect("you › ", since=stopped)
        assert "Why it matters" not in terminal.output  # the end of the answer never came
        terminal.send("/history\r")
        terminal.expect("/open N continues one.", since=stopped)
        terminal.send("/exit\r")
        assert terminal.close() == 0
    finally:
        if terminal.process.poll() is None:
            terminal.process.kill()
