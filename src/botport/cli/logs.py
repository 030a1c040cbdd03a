"""Log lines of the commands that log (``serve``, ``emulator``): on stderr, with a worker's pid."""

from __future__ import annotations

import logging


def configure_logging(level: str, *, worker: bool = False) -> None:
    """botport's log lines on stderr; a worker's carry its process id."""
    pid = " [%(process)d]" if worker else ""
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s %(levelname)-7s{pid} %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO; keep it quiet unless debugging.
    logging.getLogger("httpx").setLevel(logging.WARNING if level != "debug" else logging.DEBUG)
