"""The README's commands are the ones CI runs: its test command and its lint line, word for word."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _commands(block: str) -> list[str]:
    """The commands of a shell block, comments dropped."""
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def _blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_the_first_lines_install_and_run_then_test_in_a_virtual_environment() -> None:
    install_and_run, run_tests = _commands(_blocks()[0])
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    assert install_and_run == venv + "pip install -e . && botport serve"
    assert run_tests == venv + "pip install -e '.[dev]' && pytest"


def test_ci_runs_the_readmes_test_command_and_lint_line() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    ci_lines = [line.strip() for line in ci.splitlines()]
    run_tests = _commands(_blocks()[0])[1]
    assert any(line == run_tests or line.startswith(run_tests + " || ") for line in ci_lines), run_tests
    (lint,) = [line for block in _blocks() for line in _commands(block) if line.startswith("ruff check")]
    assert lint == "ruff check . && ruff format --check . && mypy"
    assert lint in ci_lines
