"""``botport serve``: botport in one process, or in several worker processes on one socket.

With one worker the app is built here and served by uvicorn in this process. With several, uvicorn
spawns them (new interpreters, not forks) and each builds its app with :func:`worker_app`, loading
the settings as this process did: the same environment, the same config file (its absolute path in
``BOTPORT_CONFIG``) and the command-line values (as ``BOTPORT_*`` variables). Before they start, this
process checks the settings and the bots, creates the cookie-signing key if needed (once, not once
per worker), migrates the database and asks Redis for a pong, so that a wrong URL is one clear error
here rather than every worker failing to start. :mod:`botport.workers` decides how many.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from botport import __version__
from botport.cli.logs import configure_logging
from botport.cli.options import ConfigOption, fail, load, say_data_dir
from botport.cli.port import CannotListen, http_url, reserve_port
from botport.settings import Settings, load_settings
from botport.workers import WorkersRefused, available_cores, plan_workers

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("botport.serve")

WORKER_FACTORY = "botport.cli.serve:worker_app"

OPEN_FILES_RESERVE = 200  # the database, Redis, logs, the listening socket
LISTEN_BACKLOG = 8192


def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[
        int | None,
        typer.Option(help="Port to listen on (default 8400; 0: a free one, named when it starts)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes (BOTPORT_WORKERS). Default: one per core with PostgreSQL and Redis "
            "and a Coze token, else 1. More than 1 needs PostgreSQL and a Coze token.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run botport: the web page, the API and the gateway to Coze (demo mode without a token)."""
    overrides = {"host": host, "port": port, "workers": workers}
    settings = load(config, **overrides)
    configure_logging(settings.log_level)
    say_data_dir(settings)
    # In demo mode Coze is in the process: no sockets to it, nothing to warn about.
    _open_files_for(None if settings.demo_mode else settings.upstream_max_connections)
    try:
        plan = plan_workers(settings, cores=available_cores())
    except WorkersRefused as exc:
        fail(str(exc), 2)

    from botport.app import create_app

    try:
        # Checks the bots, and creates the cookie-signing key once, before any worker needs it.
        application = create_app(settings)
    except ValueError as exc:
        fail(str(exc), 2)
    log.info("%s", plan.reason)
    if plan.warning:
        log.warning("%s", plan.warning)
    try:
        reservation = reserve_port(settings.host, settings.port)
    except CannotListen as exc:
        fail(str(exc))
    mode = "DEMO MODE (built-in emulator, no Coze token)" if settings.demo_mode else settings.coze_base_url
    if settings.oauth_app:
        mode += f", Coze OAuth app {settings.coze_oauth_app_id}"
    typer.echo(
        f"botport {__version__} on {http_url(settings.host, reservation.port)}, "
        f"{plan.count} worker{'' if plan.count == 1 else 's'}  [{mode}]",
        err=True,
    )
    try:
        _run(settings, application, plan.count, config, {**overrides, "port": reservation.port})
    finally:
        reservation.release()


def _run(
    settings: Settings, application: FastAPI, workers: int, config: Path | None, overrides: dict[str, Any]
) -> None:
    """uvicorn, on the reserved port: this process serves ``application``, or supervises ``workers``
    that build their own (the same settings, the same port)."""
    import uvicorn

    from botport.connections import PROCESS_PROTOCOL, configure_process

    options: dict[str, Any] = {
        "host": settings.host,
        "port": overrides["port"],
        # uvicorn's access log at info, like botport's own log; paths and statuses only, never bodies.
        "log_level": settings.log_level,
        # botport reads X-Forwarded-* itself, from BOTPORT_TRUSTED_PROXIES only (api/forwarded.py).
        "proxy_headers": False,
        "timeout_graceful_shutdown": 5,
        # Connections waiting to be accepted: thousands of clients arriving at once (uvicorn's 2048
        # refused some at 5,000). The kernel caps it at net.core.somaxconn.
        "backlog": LISTEN_BACKLOG,
        # uvicorn's HTTP protocol with a deadline for the request head and a cap on connections per
        # client address (botport.connections), by name: workers load it in their own process.
        # No limit_concurrency: it counts open streams too (botport holds thousands), and past it even
        # /healthz gets 503; new turns are shed where it matters, by upstream_max_connections.
        "http": PROCESS_PROTOCOL,
    }
    configure_process(settings)
    if workers == 1:
        uvicorn.run(application, **options)
        return
    _prepare_shared_state(settings)
    _pass_to_workers(config, overrides)
    uvicorn.run(WORKER_FACTORY, factory=True, workers=workers, **options)


def _open_files_for(upstream_connections: int | None) -> None:
    """Every open stream holds two sockets (the client's and Coze's): raise this process's soft limit
    on open files to its hard limit (workers inherit it), and say so when even that cannot hold the
    Coze connections allowed — past it, new connections fail with "too many open files"."""
    try:
        import resource
    except ImportError:  # not on a POSIX system
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if upstream_connections is None or soft == resource.RLIM_INFINITY:
        return
    if 2 * upstream_connections + OPEN_FILES_RESERVE > soft:
        log.warning(
            "the open-files limit (%d) holds about %d streams at once, fewer than "
            "BOTPORT_UPSTREAM_MAX_CONNECTIONS (%d): raise it (ulimit -n, or LimitNOFILE= in a systemd unit)",
            soft,
            (soft - OPEN_FILES_RESERVE) // 2,
            upstream_connections,
        )


def worker_app() -> FastAPI:
    """The app of one worker process: uvicorn calls it there (``factory=True``)."""
    from botport.app import create_app
    from botport.connections import configure_process

    _die_with_the_parent()
    config = os.environ.get("BOTPORT_CONFIG")
    settings = load_settings(Path(config) if config else None)
    configure_logging(settings.log_level, worker=True)
    # Before the first connection: uvicorn loads the app (this function) before it listens.
    configure_process(settings)
    return create_app(settings)


def _die_with_the_parent() -> None:
    """A worker does not outlive the process that supervises it: when that one dies without ending
    its workers (``kill -9``, a crash), the kernel kills them too (Linux), as one process would have
    died — not left serving on the socket with nobody to stop them. Their running turns are then
    resolved like any crashed instance's."""
    if sys.platform != "linux":
        return
    import ctypes
    import multiprocessing
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before we asked
        os._exit(1)


def _pass_to_workers(config: Path | None, overrides: dict[str, Any]) -> None:
    """What the workers need to load the settings this process loaded (they inherit its environment)."""
    if config is not None:
        os.environ["BOTPORT_CONFIG"] = str(config.resolve())
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"BOTPORT_{name.upper()}"] = str(value)


def _prepare_shared_state(settings: Settings) -> None:
    """Migrate the database once and check that Redis answers, before the workers start."""
    try:
        asyncio.run(_migrate_and_ping(settings))
    except Exception as exc:  # any driver's error: say what failed, without the URL (it may hold a password)
        fail(f"cannot start the workers: {type(exc).__name__}: {exc}", 2)


async def _migrate_and_ping(settings: Settings) -> None:
    from botport.store.db import Database

    db = Database(settings.resolved_database_url)
    try:
        await db.start()
    finally:
        await db.close()
    if settings.redis_url:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=5)
        try:
            await redis.ping()
        finally:
            await redis.aclose()
