"""Property-based fuzzing of botport's HTTP API against its own ``/openapi.json`` (schemathesis, every
check): no request, however odd, gets a server error, an undocumented status, a wrong answer to an
undeclared method, a refusal of a request the document calls valid or an acceptance of one it calls
invalid. A real uvicorn server on the demo bots' emulator without delays (so turns end at once and
requests reach the code rather than a 409); the schemathesis CLI with a fixed seed, a few examples per
operation. API-key requests over every operation, every phase (about 110 s on an idle 2-core machine),
then the browser's cookie (with botport's own page's ``Origin``) over the operations a browser may call,
without the coverage phase (about 25 s). The long run (>= 10,000
cases) is ``python scripts/fuzz_api.py --max-examples 400``; both use scripts/fuzz_hooks.py, which
makes a generated Idempotency-Key specific to its request.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from api_keys import new_key
from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.demo import demo_bots
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOTS
from botport.emulator.faults import Faults
from botport.settings import Settings

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(  # under CI it is installed (dev extras): a missing one fails there
        importlib.util.find_spec("schemathesis") is None and os.environ.get("CI") != "true",
        reason="schemathesis is not installed (dev extras)",
    ),
    # Bounded: each pass takes 1-1.5 minutes on an idle 2-core machine; under `pytest -n` it shares the
    # cores with the other workers' tests, and may take 3-4 times as long (only a hang goes past this).
    pytest.mark.timeout(600),
    pytest.mark.slow,
]

TOKEN = "pat_fuzz_test_token_not_secret"
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
MAX_EXAMPLES = 5
SEED = 20261127  # a fixed seed: the same cases on every run, so a failure here is reproducible
KEY_ONLY_PATHS = r"^/(v1/|api/tool/ask$|mcp$)"
# The fuzzer sends far more requests a minute than any client: per-caller limits off (a 429 says nothing
# about the document). Settings ignores names it does not know.
LIMITS_OFF = {
    "requests_per_minute": 0,
    "address_requests_per_minute": 0,
    "turns_per_minute": 0,
    "address_turns_per_minute": 0,
    "concurrent_turns": 0,
    "max_connections_per_client": 0,
}


def _app(tmp_path: Path) -> tuple[Any, Settings]:
    """botport on the demo bots' emulator without their streaming delays (as the gateway tests run it),
    in token mode: the turns the fuzzer starts end in milliseconds, not seconds."""
    emulator = create_emulator_app(tokens=[TOKEN], bots=[replace(bot, faults=Faults()) for bot in DEMO_BOTS])
    settings = Settings(
        coze_token=SecretStr(TOKEN),
        coze_base_url="http://coze.test",
        bots=demo_bots(),
        data_dir=tmp_path / "data",
        secret_key=SecretStr("a-test-secret-key"),
        **LIMITS_OFF,
    )
    return create_app(settings, upstream_transport=StreamingASGITransport(emulator)), settings


def _cookie(url: str) -> str:
    with httpx.Client(base_url=url) as client:
        client.get("/api/config").raise_for_status()
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


def _schemathesis(url: str, headers: list[str], out: Path, *extra: str) -> dict[str, Any]:
    """One ``st run`` with every check; its JSON report, plus the statuses of all its responses."""
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(SCRIPTS / "schemathesis.toml")]
    command += ["run", f"{url}/openapi.json"]
    command += ["--checks", "all", "--max-examples", str(MAX_EXAMPLES)]
    command += ["--seed", str(SEED), "--continue-on-failure", "--workers", "1", "--request-timeout", "20"]
    command += ["--report", "json,ndjson", "--report-dir", str(out), "--no-color", *extra]
    for header in headers:
        command += ["-H", header]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "fuzz_hooks"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
    out.mkdir(parents=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=out, timeout=480, check=False)
    (report_path,) = out.glob("json-*.json")
    report: dict[str, Any] = json.loads(report_path.read_text())
    statuses: list[int] = []
    for ndjson in out.glob("ndjson-*.ndjson"):
        for line in ndjson.read_text().splitlines():
            finished = json.loads(line).get("ScenarioFinished")
            if finished:
                for interaction in finished["recorder"].get("interactions", {}).values():
                    if interaction.get("response"):
                        statuses.append(interaction["response"]["status_code"])
    report["statuses"] = statuses
    report["output"] = done.stdout[-4000:] + done.stderr[-2000:]
    report["details"] = _failure_details(out)
    return report


def _failure_details(out: Path) -> list[str]:
    """One line per distinct failure (check, operation, status): the request and the answer."""
    seen: dict[tuple[str, str, int], str] = {}
    for ndjson in out.glob("ndjson-*.ndjson"):
        for line in ndjson.read_text().splitlines():
            finished = json.loads(line).get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished["recorder"]
            for case_id, checks in recorder.get("checks", {}).items():
                interaction = recorder.get("interactions", {}).get(case_id, {})
                request, response = interaction.get("request", {}), interaction.get("response") or {}
                for check in checks:
                    if check.get("status") != "failure":
                        continue
                    key = (check["name"], recorder["label"], response.get("status_code", 0))
                    content = response.get("content", {}).get("$base64", "")
                    seen.setdefault(
                        key,
                        f"{key}: {request.get('method')} {request.get('uri')} "
                        f"body={_text(request.get('body', {}).get('$base64', ''))[:200]!r} "
                        f"-> {_text(content)[:200]!r}",
                    )
    return sorted(seen.values())


def _text(b64: str) -> str:
    return base64.b64decode(b64).decode("utf-8", "replace")


def _assert_clean(report: dict[str, Any]) -> None:
    failures = [(f["code"], f["title"], f["count"], f["operations"]) for f in report["failures"]]
    server_errors = sorted(s for s in report["statuses"] if s >= 500)
    assert report["test_cases"]["generated"] >= 100, report["output"]
    assert report["errors"] == [], report["output"]
    assert server_errors == [], f"server errors {server_errors}\n{report['output']}"
    details = "\n".join(report["details"])
    assert failures == [], "\n".join(map(str, failures)) + "\n" + details + "\n" + report["output"]


@pytest.fixture
def fuzzed_server(tmp_path: Path, live_server: Callable[..., Any]) -> tuple[str, str]:
    app, settings = _app(tmp_path)
    server = live_server(app)
    return server.url, asyncio.run(new_key(settings.resolved_database_url, "fuzz"))


def test_every_operation_with_an_api_key_conforms(tmp_path: Path, fuzzed_server: tuple[str, str]) -> None:
    url, key = fuzzed_server
    _assert_clean(_schemathesis(url, [f"Authorization: Bearer {key}"], tmp_path / "key"))


def test_the_browsers_operations_with_its_cookie_conform(
    tmp_path: Path, fuzzed_server: tuple[str, str]
) -> None:
    url, _ = fuzzed_server
    headers = [f"Cookie: {_cookie(url)}", f"Origin: {url}", "Sec-Fetch-Site: same-origin"]
    # Without the coverage phase (1,500 boundary cases, 80 s of CI's two cores): the key's pass above
    # covers these same operations' boundaries; here it is the cookie's way in that is under test.
    # scripts/fuzz_api.py runs every phase for both.
    phases = ("--phases", "examples,fuzzing,stateful")
    report = _schemathesis(url, headers, tmp_path / "cookie", "--exclude-path-regex", KEY_ONLY_PATHS, *phases)
    _assert_clean(report)
