"""Where botport's CPU goes at saturation (not a test): py-spy samples the botport process while
bench_gateway.py's saturation load runs (a bot with no delays, 32 turns at a time, /api and /v1
streamed), then prints the busy samples' share by library and the top functions by self time.

    python bench/profile_saturation.py                       # the installed botport
    PYTHONPATH=/path/to/other/checkout/src python bench/profile_saturation.py   # another version

Needs py-spy (``pip install py-spy``) and permission to attach to a child process (root, or
``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_gateway import BOTPORT_PATHS, SATURATION_CONCURRENCY, machine, measure, servers

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*):(?P<line>\d+)\)$")

# The library a frame's file belongs to (checked in order; the first match wins).
LIBRARIES = [
    ("botport", "/botport/"),
    ("SQL: SQLAlchemy", "/sqlalchemy/"),
    ("SQL: aiosqlite", "/aiosqlite/"),
    ("SQL: sqlite3", "/sqlite3/"),
    ("SQL: psycopg", "/psycopg"),
    ("httpx / httpcore / h11 (the upstream)", "/httpx/"),
    ("httpx / httpcore / h11 (the upstream)", "/httpcore/"),
    ("httpx / httpcore / h11 (the upstream)", "/h11/"),
    ("uvicorn", "/uvicorn/"),
    ("Starlette / FastAPI", "/starlette/"),
    ("Starlette / FastAPI", "/fastapi/"),
    ("pydantic", "/pydantic"),
    ("anyio", "/anyio/"),
    ("redis", "/redis/"),
    ("the event loop (asyncio / uvloop)", "/asyncio/"),
    ("the event loop (asyncio / uvloop)", "uvloop"),
    ("json", "/json/"),
]


def library(path: str) -> str:
    for name, marker in LIBRARIES:
        if marker in path:
            return name
    return "the rest (standard library, ...)"


def parse(raw: str) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    """Self samples by function and by library, from py-spy's raw (collapsed) output."""
    by_function: collections.Counter[str] = collections.Counter()
    by_library: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.split(";")[-1]
        match = FRAME.match(leaf)
        func, path = (match["func"], match["file"]) if match else (leaf, leaf)
        by_function[f"{func} ({_short(path)})"] += int(count)
        by_library[library(path)] += int(count)
        total += int(count)
    return by_function, by_library, total


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=1500, help="turns per path")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    raw_file = os.path.join(tempfile.mkdtemp(prefix="botport-profile-"), "raw.txt")
    with servers(args.database_url) as s:
        spy = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(s.botport_pid),
                "--rate",
                "200",
                "--gil",  # only samples holding the GIL: Python at work, not threads waiting
                "--full-filenames",
                "--format",
                "raw",
                "-o",
                raw_file,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            auth = {"Authorization": f"Bearer {s.key}"}
            for path in ("/api stream", "/v1 stream"):
                m = measure(
                    BOTPORT_PATHS[path]("fast"),
                    s.botport,
                    auth,
                    args.turns,
                    SATURATION_CONCURRENCY,
                    s.botport_pid,
                )
                print(
                    f"{path}: {m.turns_per_second:.1f} turns/s, {m.cpu_ms_per_turn:.1f} ms CPU per turn",
                    file=sys.stderr,
                )
        finally:
            spy.send_signal(2)  # SIGINT: py-spy writes its file and exits
            spy.wait(30)
    with open(raw_file) as fh:
        by_function, by_library, total = parse(fh.read())
    shutil.rmtree(os.path.dirname(raw_file))
    print(f"{machine()}\n{total} busy samples of botport's process\n")
    print("| share | where |\n|---|---|")
    for name, count in by_library.most_common():
        print(f"| {100 * count / total:.1f} % | {name} |")
    print(f"\nTop {args.top} functions by self time\n\n| self | function |\n|---|---|")
    for name, count in by_function.most_common(args.top):
        print(f"| {100 * count / total:.1f} % | `{name}` |")


if __name__ == "__main__":
    main()
