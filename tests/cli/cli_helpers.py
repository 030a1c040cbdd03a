"""Run the ``botport`` command with a clean BOTPORT_* environment: in this process (Click's runner),
or, where a test needs a real process (signals, a server, its own stdin), as a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from botport.cli import app

COMMAND = [sys.executable, "-m", "botport.cli"]
TIMEOUT = 90
# How long a started process may take to answer: each worker is a fresh interpreter importing the
# app, and CI's two cores run the suite beside it (40 s was seen to fall short).
START_DEADLINE = 90


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTPORT_")}
    # Wide, plain output: rich would wrap a sentence across lines at 80 columns.
    env.update({"BOTPORT_DATA_DIR": str(data_dir), "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    env.update(extra)
    return env


@dataclass(frozen=True)
class Ran:
    """What a command did, as :class:`subprocess.CompletedProcess` says it."""

    returncode: int
    stdout: str
    stderr: str


def botport(*args: str, env: dict[str, str], stdin: str | None = None) -> Ran:
    """``botport ARGS`` in this process, with exactly ``env``'s BOTPORT_* variables (others unset)."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("BOTPORT_") and k not in env}
    result = CliRunner().invoke(app, list(args), env={**unset, **env}, input=stdin, catch_exceptions=False)
    return Ran(returncode=result.exit_code, stdout=result.stdout, stderr=result.stderr)


def botport_process(*args: str, env: dict[str, str], stdin: str | None = None) -> Ran:
    """``botport ARGS`` as a real process: for what only a process shows (stdin, exit, signals)."""
    done = subprocess.run(
        [*COMMAND, *args], env=env, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    return Ran(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)


def conversation_of(stderr: str) -> str:
    match = re.search(r"botport: conversation (\S+)", stderr)
    assert match, stderr
    return match.group(1)
