"""Property-based API fuzzing (not a test): schemathesis against botport's own ``/openapi.json``.

Starts a real ``botport serve`` in demo mode (no Coze token: the built-in emulator answers) on a free
port with a throwaway data directory (``--upstream fast``: the same bots without their streaming
delays, so fewer requests meet a 409 "turn running"), per-caller rate limits off (``--limits on``
keeps them), makes an API key with ``botport keys create``, takes a browser cookie from
``GET /api/config``, then runs the schemathesis CLI (``st run``, as ``python -m schemathesis.cli``)
with every check (``--checks all``) and ``--continue-on-failure``, in two passes:

- ``key``: every operation, with ``Authorization: Bearer <key>`` (the cross-site guard skips such
  requests);
- ``cookie``: the operations a browser may call (not ``/v1/...`` nor ``/api/tool/ask``, which need a
  key), with the identity cookie and the headers of botport's own page (``Origin`` = the server,
  ``Sec-Fetch-Site: same-origin``), as the web page sends them.

It prints, per pass and in total: the test cases schemathesis generated, the responses by status, the
server errors (5xx, each with its status), the check failures grouped by check and by operation (with
a reproducing request), any 429 (rate limiting), and the exact ``st run`` command lines. Everything
(schemathesis's output, its JSON and NDJSON reports, the server's log, ``summary.json``) is kept in
``--out``. The exit status is 0 only when no pass found a failure or a server error.

A generated ``Idempotency-Key`` is made request-specific by scripts/fuzz_hooks.py (see there why);
``--raw-idempotency-keys`` sends them as drawn.

    python scripts/fuzz_api.py                          # 100 examples per operation and phase
    python scripts/fuzz_api.py --max-examples 400 --seed 2026 --out /tmp/fuzz/long   # ~14,000 cases
    python scripts/fuzz_api.py --upstream fast --passes key --phases coverage,fuzzing --seed 1

Needs ``schemathesis`` (the dev extras). The numbers are schemathesis's own (its reports). Keep
``--workers 1``: with more, schemathesis 4.32 sometimes fails a coverage case with "AST constructor
recursion depth mismatch" (hypothesis's lambda-description cache is not thread-safe).
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# Per-caller limits off (unknown names are ignored by Settings): the fuzzer sends far more requests a
# minute than any client, and a 429 tells nothing about the schema. --limits on keeps the defaults.
LIMITS_OFF = {
    "BOTPORT_REQUESTS_PER_MINUTE": "0",
    "BOTPORT_ADDRESS_REQUESTS_PER_MINUTE": "0",
    "BOTPORT_TURNS_PER_MINUTE": "0",
    "BOTPORT_ADDRESS_TURNS_PER_MINUTE": "0",
    "BOTPORT_CONCURRENT_TURNS": "0",
    "BOTPORT_MAX_CONNECTIONS_PER_CLIENT": "0",
}
KEY_ONLY_PATHS = r"^/(v1/|api/tool/ask$)"  # the machine edges: a cookie is not enough there
KEY_PLACEHOLDER = "$BOTPORT_KEY"
COOKIE_PLACEHOLDER = "$BOTPORT_COOKIE"
FUZZ_DIR = Path(tempfile.gettempdir()) / "fuzz"  # the default home of each run's outputs


@dataclass
class Failure:
    check: str
    code: str
    title: str
    operation: str
    message: str
    status: int | None
    reproduce: str
    response: str
    occurrences: int = 1


@dataclass
class PassResult:
    name: str
    command: list[str]
    exit_code: int
    seconds: float
    cases: int = 0
    operations_tested: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[Failure] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    rate_limited: int = 0
    env_prefix: str = ""  # SCHEMATHESIS_HOOKS=... when the hooks are on
    report_failures: list[dict[str, Any]] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)


def source_state() -> str:
    """The commit the server runs and whether src/ has uncommitted changes (read-only git)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(  # noqa: S603
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            ["git", "-C", str(root), "status", "--porcelain", "--", "src"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{head}" + (f" + {len(dirty)} uncommitted file(s) in src/" if dirty else "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def botport_env(data_dir: Path, port: int, extra: dict[str, str]) -> dict[str, str]:
    """This environment without any BOTPORT_* setting (no token: demo mode), plus the run's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOTPORT_")}
    env.update(BOTPORT_DATA_DIR=str(data_dir), BOTPORT_HOST="127.0.0.1", BOTPORT_PORT=str(port))
    env.update(extra)
    return env


def botport_command() -> list[str]:
    exe = shutil.which("botport")
    return [exe] if exe else [sys.executable, "-c", "from botport.cli import app; app()"]


# --upstream fast: the demo bots' scripts on the emulator without their streaming delays (as the gateway
# tests run it), botport in token mode. A turn ends in milliseconds, so requests the demo pace would
# answer 409 (a turn still running) reach the code behind it.
FAST_SERVER = """
from dataclasses import replace
import uvicorn
from pydantic import SecretStr
from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.demo import demo_bots
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOTS
from botport.emulator.faults import Faults
from botport.settings import Settings
token = "pat_fuzz_fast_emulator_not_a_secret"
emulator = create_emulator_app(tokens=[token], bots=[replace(b, faults=Faults()) for b in DEMO_BOTS])
settings = Settings(coze_token=SecretStr(token), coze_base_url="http://coze.invalid", bots=demo_bots())
app = create_app(settings, upstream_transport=StreamingASGITransport(emulator))
uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
"""


@contextmanager
def running_botport(
    data_dir: Path, log_path: Path, extra: dict[str, str], upstream: str
) -> Iterator[tuple[str, dict[str, str]]]:
    """botport on a free port (``botport serve`` in demo mode, or the fast emulator); URL, environment."""
    port = free_port()
    env = botport_env(data_dir, port, extra)
    url = f"http://127.0.0.1:{port}"
    command = [*botport_command(), "serve"] if upstream == "demo" else [sys.executable, "-c", FAST_SERVER]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=log)  # noqa: S603
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"botport serve exited with {process.returncode}; see {log_path}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"botport serve did not start; see {log_path}")
                time.sleep(0.2)
            yield url, env
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def create_key(env: dict[str, str]) -> str:
    done = subprocess.run(  # noqa: S603
        [*botport_command(), "keys", "create", "fuzz"], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def browser_cookie(url: str) -> str:
    """The identity cookie a browser gets on its first visit, as a ``Cookie`` header value."""
    with httpx.Client(base_url=url) as client:
        client.get("/api/config").raise_for_status()
        pairs = [f"{name}={value}" for name, value in client.cookies.items()]
    if not pairs:
        raise RuntimeError("GET /api/config set no cookie")
    return "; ".join(pairs)


def st_command(args: argparse.Namespace, url: str, headers: list[str], report_dir: Path) -> list[str]:
    if importlib.util.find_spec("schemathesis") is None:
        raise SystemExit("schemathesis is not installed: pip install -e '.[dev]'")
    # The st command of this interpreter's schemathesis.
    config = Path(__file__).resolve().parent / "schemathesis.toml"  # operations' own expectations
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
    ]
    command += ["--checks", "all", "--max-examples", str(args.max_examples)]
    # Keep generating after a failure: otherwise an operation's fuzzing stops at its first one.
    command += ["--continue-on-failure"]
    for header in headers:
        command += ["-H", header]
    command += ["--workers", str(args.workers), "--report", "json,ndjson", "--report-dir", str(report_dir)]
    # Unsanitized, so the reproductions carry the Idempotency-Key values; the run's own key and cookie
    # are replaced by placeholders in everything kept (see redact_outputs).
    command += ["--request-timeout", str(args.request_timeout), "--output-sanitize", "false", "--no-color"]
    if args.phases:
        command += ["--phases", args.phases]
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    if args.max_time:
        command += ["--max-time", str(args.max_time)]
    return command


def shown(command: list[str], secrets: dict[str, str]) -> str:
    """The command as a shell line, with the run's key and cookie replaced by placeholders."""
    text = shlex.join(command)
    for secret, placeholder in secrets.items():
        text = text.replace(secret, placeholder)
    return text


def _decoded(payload: dict[str, Any] | None) -> str:
    if not payload:
        return ""
    if "$base64" in payload:
        return base64.b64decode(payload["$base64"]).decode("utf-8", "replace")
    return str(payload.get("string", payload))


def curl(request: dict[str, Any]) -> str:
    """A curl line for a recorded request; its credentials as ``$BOTPORT_KEY`` / ``$BOTPORT_COOKIE``
    (set them from the server you try it on)."""
    parts = ["curl", "-sS", "-i", "-X", shlex.quote(request["method"])]
    for name, values in request.get("headers", {}).items():
        for value in values:
            if name.lower() == "authorization":
                parts += ["-H", f'"Authorization: Bearer {KEY_PLACEHOLDER}"']
            elif name.lower() == "cookie":
                parts += ["-H", f'"Cookie: {COOKIE_PLACEHOLDER}"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
    body = _decoded(request.get("body"))
    if body:
        parts += ["--data-binary", shlex.quote(body)]
    parts.append(shlex.quote(request["uri"]))
    return " ".join(parts)


def read_reports(result: PassResult, report_dir: Path) -> None:
    """Fill ``result`` from schemathesis's JSON report (counts) and NDJSON events (every interaction)."""
    json_reports = sorted(report_dir.glob("json-*.json"))
    if json_reports:
        report = json.loads(json_reports[-1].read_text())
        result.cases = int(report["test_cases"]["generated"])
        result.operations_tested = int(report["operations"]["tested"])
        result.report_failures = list(report.get("failures", []))
        result.errors = list(report.get("errors", []))
    seen: dict[tuple[str, str, int | None], Failure] = {}
    for path in sorted(report_dir.glob("ndjson-*.ndjson")):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if finished is None:
                continue
            recorder = finished["recorder"]
            interactions: dict[str, Any] = recorder.get("interactions", {})
            for interaction in interactions.values():
                response = interaction.get("response")
                if response:
                    result.statuses[int(response["status_code"])] += 1
            for case_id, checks in recorder.get("checks", {}).items():
                interaction = interactions.get(case_id, {})
                response = interaction.get("response") or {}
                status = response.get("status_code")
                for check in checks:
                    info = check.get("failure_info")
                    if check.get("status") != "failure" or not info:
                        continue
                    failure = info["failure"]
                    message = failure.get("message", "")
                    # Distinct as schemathesis counts them ("unique failures"): check, operation, status.
                    key = (check["name"], failure.get("operation") or recorder["label"], status)
                    if key in seen:
                        seen[key].occurrences += 1
                        continue
                    item = seen[key] = Failure(
                        check=check["name"],
                        code=failure.get("code", ""),
                        title=failure.get("title", ""),
                        operation=failure.get("operation") or recorder["label"],
                        message=message,
                        status=status,
                        reproduce=curl(interaction["request"]) if interaction.get("request") else "",
                        response=_decoded(response.get("content"))[:300],
                    )
                    if check["name"] == "not_a_server_error":
                        result.server_errors.append(item)
                    else:
                        result.failures.append(item)
    result.rate_limited = result.statuses.get(429, 0)


def st_env(args: argparse.Namespace) -> dict[str, str]:
    """The environment of ``st run``: with scripts/fuzz_hooks.py unless --raw-idempotency-keys."""
    env = dict(os.environ)
    if not args.raw_idempotency_keys:
        scripts = str(Path(__file__).resolve().parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [scripts, env.get("PYTHONPATH")]))
        env["SCHEMATHESIS_HOOKS"] = "fuzz_hooks"
    return env


def run_pass(
    name: str, args: argparse.Namespace, url: str, headers: list[str], secrets: dict[str, str], out: Path
) -> PassResult:
    report_dir = out / f"{name}-reports"
    command = st_command(args, url, headers, report_dir)
    if name == "cookie":
        command += ["--exclude-path-regex", KEY_ONLY_PATHS]
    env = st_env(args)
    hooks = (
        f"PYTHONPATH=scripts SCHEMATHESIS_HOOKS={env['SCHEMATHESIS_HOOKS']} "
        if "SCHEMATHESIS_HOOKS" in env
        else ""
    )
    print(f"\n[{name}] {hooks}{shown(command, secrets)}", flush=True)
    started = time.monotonic()
    with (out / f"{name}-st.out").open("w") as log:
        # In the output directory: schemathesis keeps a cache of failing cases (.schemathesis/) where it runs.
        done = subprocess.run(  # noqa: S603
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=out, check=False
        )
    result = PassResult(name, command, done.returncode, time.monotonic() - started, env_prefix=hooks)
    read_reports(result, report_dir)
    redact_outputs([out / f"{name}-st.out", *report_dir.iterdir()], secrets)
    return result


def redact_outputs(paths: list[Path], secrets: dict[str, str]) -> None:
    """Replace the run's key and cookie by their placeholders in the files kept."""
    for path in paths:
        text = path.read_text(errors="surrogateescape")
        for secret, placeholder in secrets.items():
            text = text.replace(secret, placeholder)
        path.write_text(text, errors="surrogateescape")


def print_result(result: PassResult, secrets: dict[str, str]) -> None:
    print(f"\n=== pass {result.name}: st exit code {result.exit_code}, {result.seconds:.0f} s")
    print(f"command: {result.env_prefix}{shown(result.command, secrets)}")
    print(f"test cases: {result.cases} over {result.operations_tested} operations")
    print("responses by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(result.statuses.items())))
    fives = Counter(s for s in result.statuses.elements() if s >= 500)
    print(f"server errors (5xx responses): {sum(fives.values())} {dict(fives) if fives else ''}")
    if result.rate_limited:
        print(f"RATE LIMITED: {result.rate_limited} responses were 429")
    if result.errors:
        print(f"schemathesis errors: {len(result.errors)} (see {result.name}-st.out)")
    failures = result.server_errors + result.failures
    print(f"check failures (distinct): {len(failures)}")
    by_check: dict[str, list[Failure]] = defaultdict(list)
    for failure in failures:
        by_check[f"{failure.code} {failure.check} ({failure.title})"].append(failure)
    for check, items in sorted(by_check.items()):
        print(f"  {check}: {len(items)}")
        by_operation: dict[str, list[Failure]] = defaultdict(list)
        for item in items:
            by_operation[item.operation].append(item)
        for operation, group in sorted(by_operation.items()):
            for item in group:
                summary = " / ".join(line.strip() for line in item.message.splitlines()[:2] if line.strip())
                print(f"    {operation} -> {item.status} (seen {item.occurrences}x): {summary}")
                print(f"      e.g. {item.reproduce}")
                if item.response:
                    print(f"      answer: {item.response}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="per operation and phase (st -n)")
    parser.add_argument("--passes", default="key,cookie", help="key, cookie or both (comma-separated)")
    parser.add_argument("--phases", default="", help="st --phases (default: all of them)")
    parser.add_argument("--workers", default="1", help="st --workers (1-64 or auto)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--max-time", type=int, default=None, help="st --max-time, seconds per pass")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument(
        "--upstream",
        choices=["demo", "fast"],
        default="demo",
        help="demo: botport serve in demo mode (the emulator's pace); fast: the same bots without delays",
    )
    parser.add_argument("--limits", choices=["off", "on"], default="off", help="per-caller rate limits")
    parser.add_argument(
        "--raw-idempotency-keys",
        action="store_true",
        help="send schemathesis's Idempotency-Key values as drawn (default: made request-specific by "
        "scripts/fuzz_hooks.py, else a key drawn twice for two bodies is a 422 idempotency_key_reused)",
    )
    parser.add_argument("--server-env", action="append", default=[], help="NAME=VALUE for botport serve")
    parser.add_argument("--out", type=Path, default=None, help="where outputs go (default: /tmp/fuzz/<time>)")
    args = parser.parse_args(argv)
    out: Path = args.out or FUZZ_DIR / time.strftime("run-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    passes = [p.strip() for p in args.passes.split(",") if p.strip()]
    results: list[PassResult] = []
    extra = dict(LIMITS_OFF) if args.limits == "off" else {}
    extra.update(item.split("=", 1) for item in args.server_env)
    with (
        tempfile.TemporaryDirectory(prefix="botport-fuzz-") as data_dir,
        running_botport(Path(data_dir), out / "server.log", extra, args.upstream) as (url, env),
    ):
        key = create_key(env)
        cookie = browser_cookie(url)
        secrets = {key: KEY_PLACEHOLDER, cookie: COOKIE_PLACEHOLDER}
        state = source_state()
        mode = "demo mode" if args.upstream == "demo" else "fast emulator"
        print(f"botport ({mode}, source {state}) at {url}; outputs in {out}; server settings: {extra}")
        for name in passes:
            if name == "key":
                headers = [f"Authorization: Bearer {key}"]
            elif name == "cookie":
                headers = [f"Cookie: {cookie}", f"Origin: {url}", "Sec-Fetch-Site: same-origin"]
            else:
                raise SystemExit(f"unknown pass {name!r}: key or cookie")
            results.append(run_pass(name, args, url, headers, secrets, out))
    for result in results:
        print_result(result, secrets)
    cases = sum(r.cases for r in results)
    server_errors = sum(n for r in results for s, n in r.statuses.items() if s >= 500)
    failures = sum(len(r.failures) + len(r.server_errors) for r in results)
    errors = sum(len(r.errors) for r in results)
    print(
        f"\nTOTAL: {cases} test cases, {server_errors} server errors (5xx), {failures} distinct check "
        f"failures, {errors} schemathesis errors"
    )
    summary = {
        "source": state,
        "upstream": args.upstream,
        "cases": cases,
        "server_errors": server_errors,
        "check_failures": failures,
        "schemathesis_errors": errors,
        "passes": [
            {
                "name": r.name,
                "command": r.env_prefix + shown(r.command, secrets),
                "exit_code": r.exit_code,
                "seconds": round(r.seconds, 1),
                "cases": r.cases,
                "statuses": dict(sorted(r.statuses.items())),
                "failures": [vars(f) for f in r.server_errors + r.failures],
                "report_failures": r.report_failures,
            }
            for r in results
        ],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    clean = failures == 0 and server_errors == 0 and errors == 0
    return 0 if clean and all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
