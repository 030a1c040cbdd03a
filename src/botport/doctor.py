"""The checks behind ``botport doctor`` (:mod:`botport.cli.doctor` prints them): the setup, and what to fix.

Checks, in order: the bots (configured? without a token, only the emulator's can be served), a Coze
OAuth app's key file and token exchange (:mod:`botport.doctor_oauth`), the Coze base URL (reachable?)
and token (accepted? a cheap authenticated call), the bots the token sees in its workspaces (each
configured bot among them?), each configured bot (published to the API channel? with ``--live`` also a
short real turn, which costs tokens), the database (connects, migrations current), the data directory
(writable) and the secret key. In demo mode the same upstream checks run against the in-process
emulator.

Coze is spoken to only through :class:`~botport.upstream.client.CozeClient`; its typed errors
(:mod:`botport.errors`) are what the checks read. This module keeps the checks' logic and wording.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import httpx

from botport.errors import (
    BotNotPublishedError,
    CozeAPIError,
    UpstreamError,
    UpstreamHTTPError,
    UpstreamProtocolError,
    with_logid,
)
from botport.settings import COZE_CN, BotConfig, Settings

if TYPE_CHECKING:  # imported when the checks run: `botport` starts without the upstream client
    from botport.upstream.client import CozeClient
    from botport.upstream.models import BotSummary, Workspace
    from botport.upstream.oauth import CozeOAuthTokens

Status = Literal["ok", "warn", "fail", "info"]
PAT_PAGES = {
    "coze.com": "https://www.coze.com/open/oauth/pats",
    "coze.cn": "https://www.coze.cn/open/oauth/pats",
}
LIVE_QUESTION = "This is a connection test from botport doctor. Reply with one word: OK."
LIVE_TIMEOUT = 90.0
MAX_SHOWN = 20  # bots listed per workspace (the configured ones first)
_DOCTOR_USER = "botport-doctor"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def pat_page(base_url: str) -> str:
    return PAT_PAGES["coze.cn"] if base_url == COZE_CN else PAT_PAGES["coze.com"]


# --- upstream ---------------------------------------------------------------------------------------


@asynccontextmanager
async def _coze(
    settings: Settings, transport: httpx.AsyncBaseTransport | None, oauth: CozeOAuthTokens | None = None
) -> AsyncIterator[CozeClient]:
    """A client of Coze (with the token, or the OAuth app's ``oauth`` tokens) or, in demo mode, of the
    in-process emulator (:mod:`botport.demo`)."""
    from botport.demo import emulated_coze
    from botport.upstream.client import CozeClient

    async with AsyncExitStack() as stack:
        if settings.demo_mode:
            coze = await emulated_coze(settings, transport, stack)
        else:
            token = oauth if oauth is not None else settings.coze_token
            assert token is not None
            coze = CozeClient(
                base_url=settings.coze_base_url,
                token=token,
                transport=transport,
                connect_timeout=settings.connect_timeout,
                read_timeout=min(settings.read_timeout, LIVE_TIMEOUT),
            )
        stack.push_async_callback(coze.aclose)
        yield coze


def _token_page(settings: Settings) -> str:
    """Where the token's permissions are set: its page of personal access tokens, or of OAuth apps."""
    if settings.oauth_app:
        from botport.doctor_oauth import apps_page

        return apps_page(settings.coze_base_url)
    return pat_page(settings.coze_base_url)


def _where(settings: Settings) -> str:
    return "the built-in emulator" if settings.demo_mode else settings.coze_base_url


async def check_token(coze: CozeClient, settings: Settings, bots: list[BotConfig]) -> list[Check]:
    """Base URL reachable, token accepted: one cheap authenticated call."""
    where = _where(settings)
    try:
        await coze.check_token(bots[0].bot_id if bots else None)
    except CozeAPIError as exc:
        reachable = Check("Coze base URL", "ok", f"{where} answers")
        page = _token_page(settings)
        if exc.upstream_code == 4100 or exc.http_status == 401:
            why = with_logid(f"rejected ({exc.upstream_code} {exc.message})", exc.logid)
            fix = (
                f"the OAuth app's new access token was refused: check at {page} that the app is authorized"
                if settings.oauth_app
                else f"the token is invalid or expired: make a new personal access token at {page} "
                "and set BOTPORT_COZE_TOKEN"
            )
            return [reachable, Check("Coze token", "fail", why, fix)]
        if exc.upstream_code == 4101:
            why = with_logid(f"lacks a permission (4101 {exc.message})", exc.logid)
            whose = "the OAuth app" if settings.oauth_app else "the token"
            fix = f"give {whose} the chat and conversation permissions at {page}"
            return [reachable, Check("Coze token", "fail", why, fix)]
        why = with_logid(f"the check call answered {exc.upstream_code}: {exc.message}", exc.logid)
        return [reachable, Check("Coze token", "warn", why)]
    except (UpstreamHTTPError, UpstreamProtocolError) as exc:
        status = f" HTTP {exc.http_status}" if exc.http_status else ""
        return [
            Check(
                "Coze base URL",
                "fail",
                f"{where} answered{status} without a Coze envelope",
                "BOTPORT_COZE_BASE_URL must be the API address (https://api.coze.com, not www.coze.com)",
            )
        ]
    except UpstreamError as exc:
        return [
            Check(
                "Coze base URL",
                "fail",
                f"cannot reach {where}: {exc.message}",
                "check BOTPORT_COZE_BASE_URL (https://api.coze.com, https://api.coze.cn or your Coze "
                "Studio URL) and the network or proxy between this host and it",
            )
        ]
    return [Check("Coze base URL", "ok", f"{where} answers"), Check("Coze token", "ok", "accepted")]


async def check_visible_bots(coze: CozeClient, settings: Settings, bots: list[BotConfig]) -> list[Check]:
    """The bots the token sees, per workspace (the configured ones marked), and a warning for each
    configured bot not among them. A token without the permission to list them is told which to add:
    botport itself does not need it."""
    from botport.upstream.catalog import MAX_LISTED

    name = "bots visible"
    missing = "listWorkspace"
    try:
        workspaces = await coze.list_workspaces()
        missing = "listBot"
        listed = [(space, await coze.list_bots(space.id)) for space in workspaces]
    except CozeAPIError as exc:
        if exc.upstream_code == 4101:
            page = _token_page(settings)
            why = with_logid(f"not listed: the token lacks the {missing} permission (4101)", exc.logid)
            return [Check(name, "info", f"{why}; to see them here, add listWorkspace and listBot at {page}")]
        why = with_logid(f"not listed: Coze answered {exc.upstream_code}: {exc.message}", exc.logid)
        return [Check(name, "info", why)]
    except UpstreamError as exc:
        return [Check(name, "info", with_logid(f"not listed: {exc.message}", exc.logid))]
    here = {bot.bot_id: bot.slug for bot in bots}
    lines = [_bot_lines(space, found, here) for space, found in listed] or ["the token sees no workspace"]
    checks = [Check(name, "info", "\n".join(lines))]
    complete = len(workspaces) < MAX_LISTED and all(len(found) < MAX_LISTED for _, found in listed)
    seen = {summary.id for _, found in listed for summary in found}
    for bot in bots:
        if complete and bot.bot_id not in seen:
            checks.append(
                Check(
                    name,
                    "warn",
                    f"bot {bot.slug} ({bot.bot_id}) is not among them",
                    f"check bot {bot.slug}'s id (the number after /bot/ in its URL on Coze), and that the "
                    "token's account is a member of the bot's workspace",
                )
            )
    return checks


def _bot_lines(space: Workspace, found: list[BotSummary], here: dict[str, str]) -> str:
    """A workspace and its bots, the ones served here first."""
    count = f"{len(found)} bot{'' if len(found) == 1 else 's'}" if found else "no bots"
    lines = [f"{space.name or 'workspace'} ({space.id}): {count}"]
    ordered = sorted(found, key=lambda summary: summary.id not in here)  # stable: Coze's order within
    for summary in ordered[:MAX_SHOWN]:
        state = "published" if summary.is_published else "not published"
        served = f', served as "{here[summary.id]}"' if summary.id in here else ""
        lines.append(f"  {summary.name or '(no name)'} ({summary.id}): {state}{served}")
    if len(found) > MAX_SHOWN:
        lines.append(f"  … and {len(found) - MAX_SHOWN} more")
    return "\n".join(lines)


async def check_bot(coze: CozeClient, bot: BotConfig) -> Check:
    """Published to the API channel (the channel botport talks to)?"""
    name = f"bot {bot.slug}"
    try:
        info = await coze.bot_info(bot.bot_id)
    except BotNotPublishedError as exc:
        return Check(
            name,
            "fail",
            with_logid(f"bot {bot.bot_id} is not published to the API channel", exc.logid),
            "in Coze open the bot, Publish, tick 'API' (Agent as API) and publish again",
        )
    except CozeAPIError as exc:
        return Check(
            name,
            "fail",
            with_logid(f"Coze answered {exc.upstream_code}: {exc.message}", exc.logid),
            "check the bot id (the number in the bot's URL on Coze) and that the token's account owns it",
        )
    except (UpstreamHTTPError, UpstreamProtocolError) as exc:
        return Check(
            name, "warn", with_logid(f"cannot tell whether it is published: {exc.message}", exc.logid)
        )
    except UpstreamError as exc:
        return Check(name, "fail", f"cannot ask Coze about it: {exc.message}")
    return Check(name, "ok", f"published to the API channel ({info.name or bot.bot_id})")


async def check_live_turn(coze: CozeClient, bot: BotConfig) -> Check:
    """A short real turn: the bot answers (costs tokens, so only with --live)."""
    from botport.upstream.probe import ask

    name = f"bot {bot.slug} answers"
    started = time.monotonic()
    try:
        async with asyncio.timeout(LIVE_TIMEOUT):
            reply = await ask(coze, bot_id=bot.bot_id, user_id=_DOCTOR_USER, question=LIVE_QUESTION)
    except UpstreamError as exc:
        code = f" ({exc.upstream_code})" if exc.upstream_code is not None else ""
        return Check(name, "fail", with_logid(f"{type(exc).__name__}{code}: {exc.message}", exc.logid))
    except TimeoutError:
        return Check(name, "fail", f"no complete answer within {LIVE_TIMEOUT:g} s")
    seconds = time.monotonic() - started
    excerpt = " ".join(reply.text.split())[:40] or (
        "(asked for a tool call)" if reply.tool_call else "(no text)"
    )
    return Check(name, "ok", f"answered in {seconds:.1f} s: {excerpt}")


# --- local ------------------------------------------------------------------------------------------


def check_data_dir(data_dir: Path) -> Check:
    path = data_dir.resolve()
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            return Check("data dir", "ok", f"{path} (created on first start)")
        return Check("data dir", "fail", f"{path} does not exist and cannot be created", _DATA_DIR_FIX)
    if not path.is_dir():
        return Check("data dir", "fail", f"{path} is not a directory", _DATA_DIR_FIX)
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return Check("data dir", "fail", f"{path} is not writable: {exc.strerror}", _DATA_DIR_FIX)
    return Check("data dir", "ok", f"{path} is writable")


_DATA_DIR_FIX = "set BOTPORT_DATA_DIR to a directory botport's user can write, or fix its owner"


def check_secret_key(settings: Settings) -> Check:
    if settings.secret_key is not None:
        if len(settings.secret_key.get_secret_value()) < 32:
            return Check(
                "secret key",
                "warn",
                "BOTPORT_SECRET_KEY is shorter than 32 characters",
                "use a long random value, e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'",
            )
        return Check("secret key", "ok", "set by BOTPORT_SECRET_KEY")
    path = settings.data_dir.resolve() / "secret_key"
    if not path.exists():
        return Check("secret key", "ok", f"generated into {path} on first start")
    try:
        content = path.read_text().strip()
    except OSError as exc:
        return Check("secret key", "fail", f"cannot read {path}: {exc.strerror}", "fix the file's owner")
    if not content:
        return Check("secret key", "fail", f"{path} is empty", "delete it: botport makes a new one")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        return Check("secret key", "fail", f"{path} is readable by others", f"chmod 600 {path}")
    return Check("secret key", "ok", f"{path} (private)")


async def check_database(settings: Settings) -> Check:
    from sqlalchemy.engine import make_url

    from botport.store.db import create_engine_for, sqlite_file
    from botport.store.migrations import MIGRATIONS, applied_migrations

    url = settings.resolved_database_url
    shown = make_url(url).render_as_string(hide_password=True)
    path = sqlite_file(url)
    if path is not None and not path.exists():
        return Check("database", "ok", f"{shown} (created on first start)")
    try:
        engine = create_engine_for(url, create_dirs=False)
    except ValueError as exc:
        return Check(
            "database", "fail", str(exc), "set BOTPORT_DATABASE_URL to sqlite:///... or postgresql://..."
        )
    try:
        applied = await applied_migrations(engine)
    except Exception as exc:  # any driver error: the report says what it was
        return Check(
            "database",
            "fail",
            f"cannot connect to {shown}: {type(exc).__name__}",
            "check BOTPORT_DATABASE_URL, that the server runs, and the credentials",
        )
    finally:
        await engine.dispose()
    known = [name for name, _ in MIGRATIONS]
    unknown = [name for name in applied if name not in known]
    pending = [name for name in known if name not in applied]
    if unknown:
        return Check(
            "database",
            "fail",
            f"{shown} has migrations this botport does not know: {', '.join(unknown)}",
            "upgrade botport: the database was migrated by a newer version",
        )
    if pending:
        return Check("database", "warn", f"{shown}: {len(pending)} migration(s) pending, applied on start")
    return Check("database", "ok", f"{shown}, migrations current ({len(applied)})")


# --- the run ----------------------------------------------------------------------------------------


async def _upstream_checks(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    oauth: CozeOAuthTokens | None,
    bots: list[BotConfig],
    *,
    live: bool,
) -> list[Check]:
    checks: list[Check] = []
    async with _coze(settings, transport, oauth) as coze:
        upstream = await check_token(coze, settings, bots)
        checks.extend(upstream)
        if all(c.status != "fail" for c in upstream):
            checks.extend(await check_visible_bots(coze, settings, bots))
            for bot in bots:
                checks.append(await check_bot(coze, bot))
                if live:
                    checks.append(await check_live_turn(coze, bot))
            if not live and bots:
                checks.append(
                    Check("bots answer", "info", "not tried: --live runs a short real turn per bot")
                )
    return checks


async def run_checks(
    settings: Settings, *, live: bool = False, transport: httpx.AsyncBaseTransport | None = None
) -> list[Check]:
    """Every check, in report order. ``transport`` replaces the network to Coze (tests)."""
    from botport.demo import TokenNeeded, offered_bots

    checks: list[Check] = []
    if settings.demo_mode:
        checks.append(
            Check(
                "mode",
                "info",
                "demo mode: no Coze token is set, the built-in emulator answers (checked below)",
            )
        )
    try:
        bots = offered_bots(settings)  # the bots `botport serve` would serve; it refuses what this refuses
    except TokenNeeded as exc:
        bots = []
        checks.append(Check("bots", "fail", exc.problem, exc.fix))
    else:
        if not bots:
            checks.append(
                Check(
                    "bots", "fail", "no bot configured", "set BOTPORT_BOT_ID, or [[bots]] in the config file"
                )
            )
    async with AsyncExitStack() as stack:
        oauth: CozeOAuthTokens | None = None
        if settings.oauth_app:  # the key file and an exchange first: without a token, nothing to ask Coze
            from botport.doctor_oauth import oauth_checks

            found, oauth = await oauth_checks(settings, transport, stack)
            checks.extend(found)
        if oauth is not None or not settings.oauth_app:
            checks.extend(await _upstream_checks(settings, transport, oauth, bots, live=live))
    checks.append(await check_database(settings))
    checks.append(check_data_dir(settings.data_dir))
    checks.append(check_secret_key(settings))
    return checks
