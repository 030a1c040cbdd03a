"""Runs snippets of the official Coze JavaScript SDK (`@coze/api`, through node) against a server.

Import it as ``from coze_js_helpers import run_coze_js`` (the tests folder is on the import path, as
its conftest is there). ``.ci/run`` installs the SDK with ``npm ci --prefix tests/coze_js``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

COZE_JS = Path(__file__).resolve().parent / "coze_js"


def coze_js_available() -> bool:
    return shutil.which("node") is not None and (COZE_JS / "node_modules" / "@coze" / "api").is_dir()


needs_coze_js = pytest.mark.skipif(
    not coze_js_available(), reason="node and tests/coze_js/node_modules (npm ci --prefix tests/coze_js)"
)


def run_coze_js(snippet: str, *, base_url: str, token: str, timeout: float = 60) -> Any:
    """The value the snippet returns; an SDK error is raised as ``CozeJsError`` with its code and message.

    The snippet is the body of an async function of ``(coze, sdk)``: ``coze`` is a ``CozeAPI`` made
    with ``base_url`` and ``token``, ``sdk`` the whole module (for ``ChatEventType`` and friends).
    """
    done = subprocess.run(
        ["node", str(COZE_JS / "run.mjs"), base_url, token],
        input=snippet,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=COZE_JS,
        check=False,
    )
    if done.returncode != 0 or not done.stdout:
        raise AssertionError(f"node failed ({done.returncode}): {done.stderr[-2000:]}")
    answer = json.loads(done.stdout)
    if not answer["ok"]:
        raise CozeJsError(answer["error"])
    return answer["result"]


class CozeJsError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error['name']}: {error['message']}")
        self.name = error["name"]
        self.message = error["message"]
        self.code = error["code"]
        self.status = error["status"]
