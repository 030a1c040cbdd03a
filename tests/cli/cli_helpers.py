"""Run the ``botport`` command in a real subprocess, with a clean BOTPORT_* environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

COMMAND = [sys.executable, "-m", "botport.cli"]
TIMEOUT = 90


def clean_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTPORT_")}
    # Wide, plain output: rich would wrap a sentence across lines at 80 columns.
    env.update({"BOTPORT_DATA_DIR": str(data_dir), "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    env.update(extra)
    return env


def botport(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], env=env, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def conversation_of(stderr: str) -> str:
    match = re.search(r"botport: conversation (\S+)", stderr)
    assert match, stderr
    return match.group(1)
