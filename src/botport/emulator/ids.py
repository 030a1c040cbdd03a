"""Ids and clocks shaped like Coze's: 19-digit numeric ids, unix-second times, hex log ids."""

from __future__ import annotations

import itertools
import secrets
import time
from datetime import UTC, datetime

# Coze ids are 19-digit decimal strings. A shared counter keeps them unique and sortable in creation
# order (message paging relies on that); the random start keeps two emulator runs from colliding.
_counter = itertools.count(7_400_000_000_000_000_000 + secrets.randbelow(10**15) * 1000)


def new_id() -> str:
    return str(next(_counter))


def new_logid() -> str:
    """A request id like Coze's ``x-tt-logid``: a UTC timestamp followed by random hex."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    return stamp + secrets.token_hex(10).upper()


def now() -> int:
    return int(time.time())
