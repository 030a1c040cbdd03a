"""How many worker processes ``botport serve`` runs, and why.

Several workers share one socket, so each is one more instance of botport: they need the state that
several instances need. The database must be PostgreSQL — a SQLite file belongs to one process: a
worker that starts (or that uvicorn restarts after a crash) takes every answer still running in it
for one left behind by a crash, and ends it. Redis lets a running turn be followed and stopped from
any worker; without it a watcher on another worker polls the database and sees the answer when it
ends. And Coze must be a real one: in demo mode the emulator lives inside the process, so each
worker would have its own, and a conversation's chats and tool calls would be split between them.

- Not asked (``--workers`` / ``BOTPORT_WORKERS`` unset): one per core when the database is
  PostgreSQL, Redis is set and Coze is real; otherwise one, and the reason says what to set.
- Asked for more than one: refused (:class:`WorkersRefused`) with SQLite or in demo mode; allowed
  with PostgreSQL without Redis (as several instances are), with a warning that says what is lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from botport.settings import Settings
from botport.store.db import normalize_url

POSTGRES_HINT = "BOTPORT_DATABASE_URL=postgresql://…"


class WorkersRefused(ValueError):
    """More than one worker was asked for, with state that one process cannot share."""


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    count: int
    reason: str  # one log line: how many workers, and why
    warning: str | None = None  # what works less well with this many (logged as a warning)


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def plan_workers(settings: Settings, *, cores: int) -> WorkerPlan:
    """The number of workers for ``settings`` on a machine with ``cores`` cores (see the module)."""
    postgres = normalize_url(settings.resolved_database_url).get_backend_name() == "postgresql"
    redis = bool(settings.redis_url)
    asked = settings.workers
    if asked is None:
        return _default(settings, cores=cores, postgres=postgres, redis=redis)
    if asked == 1:
        return WorkerPlan(1, "1 worker, as asked")
    if settings.demo_mode:
        raise WorkersRefused(
            f"--workers {asked} needs a Coze token (or a Coze OAuth app): in demo mode the built-in "
            "emulator runs inside the process, so each worker would have its own, and a conversation's "
            "chats, tool calls and Stop would not reach the worker whose emulator holds them. To try "
            "several workers offline, run `botport emulator` and point BOTPORT_COZE_BASE_URL and "
            "BOTPORT_COZE_TOKEN at it."
        )
    if not postgres:
        raise WorkersRefused(
            f"--workers {asked} needs PostgreSQL ({POSTGRES_HINT}): a SQLite file belongs to one "
            "process, and a worker that starts takes every answer still running in it for one left "
            "behind by a crash, and ends it."
        )
    reason = f"{_plural(asked, 'worker')}, as asked ({_plural(cores, 'core')})"
    if redis:
        return WorkerPlan(asked, reason)
    return WorkerPlan(
        asked,
        reason,
        warning=(
            "workers without Redis: a running answer streams live only from the worker running it; "
            "a watcher that lands on another worker (a reconnect, a second tab) gets it when it ends "
            "(the database is asked every second), and Stop there goes through Coze's cancel. "
            "Set BOTPORT_REDIS_URL to share running turns between workers."
        ),
    )


def _default(settings: Settings, *, cores: int, postgres: bool, redis: bool) -> WorkerPlan:
    if postgres and redis and not settings.demo_mode:
        return WorkerPlan(
            cores, f"{_plural(cores, 'worker')}: one per core (PostgreSQL and Redis are shared)"
        )
    if cores == 1:
        return WorkerPlan(1, "1 worker: one core")
    if settings.demo_mode:
        why = "demo mode (the built-in emulator runs inside the process)"
        missing = [name for name, ok in ((POSTGRES_HINT, postgres), ("BOTPORT_REDIS_URL", redis)) if not ok]
        wanted = ", ".join(["BOTPORT_COZE_TOKEN", *missing])
    elif not postgres:
        why = "SQLite" + ("" if redis else " without Redis")
        wanted = POSTGRES_HINT + ("" if redis else " and BOTPORT_REDIS_URL")
    else:
        why, wanted = "PostgreSQL without Redis", "BOTPORT_REDIS_URL"
    return WorkerPlan(1, f"1 worker: {why}; set {wanted} to use all {cores} cores")
