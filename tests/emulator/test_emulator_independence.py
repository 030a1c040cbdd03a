"""The emulator must not share the client's reading of the protocol, or a misreading passes both sides."""

from __future__ import annotations

import ast
from pathlib import Path

EMULATOR = Path(__file__).resolve().parents[2] / "src" / "botport" / "emulator"
# Pure helpers that know nothing of Coze's protocol: what a file is (the emulator describes uploads).
ALLOWED = ("botport.images",)


def test_emulator_imports_nothing_from_the_rest_of_botport() -> None:
    offenders = []
    for path in sorted(EMULATOR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if name.startswith("botport")
                and not name.startswith("botport.emulator")
                and name not in ALLOWED
            ]
    assert offenders == []
