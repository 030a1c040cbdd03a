"""Runs the OpenAI Agents SDK (``openai-agents``) against a server, from its own virtual environment.

``.ci/run`` makes it: ``python3 -m venv tests/agents_sdk/.venv`` and installs
``tests/agents_sdk/requirements.txt`` (it cannot share the main one: see that file). Without it the
tests are skipped, or fail when ``CI=true``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

AGENTS_SDK = Path(__file__).resolve().parent / "agents_sdk"
PYTHON = AGENTS_SDK / ".venv" / "bin" / "python"

needs_agents_sdk = pytest.mark.skipif(
    not PYTHON.exists() and os.environ.get("CI") != "true",
    reason="tests/agents_sdk/.venv (python3 -m venv tests/agents_sdk/.venv && "
    "tests/agents_sdk/.venv/bin/pip install -r tests/agents_sdk/requirements.txt)",
)


def run_agent(base_url: str, key: str, **spec: Any) -> dict[str, Any]:
    """What ``run_agent.py`` printed for ``spec`` (see its docstring), run against ``base_url``/v1."""
    done = subprocess.run(
        [str(PYTHON), str(AGENTS_SDK / "run_agent.py")],
        input=json.dumps({"base_url": f"{base_url}/v1", "key": key, **spec}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip():
        raise AssertionError(f"the Agents SDK run failed ({done.returncode}): {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
