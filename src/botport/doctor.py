"""The checks behind ``botport doctor`` (:mod:`botport.cli.doctor` prints them): the setup, and what to fix.

Checks, in order: the Coze base URL (reachable?) and token (accepted? a cheap authenticated call),
each configured bot (published to the API channel? with ``--live`` also a short real turn, which
costs tokens), the database (connects, migrations current), the data directory (writable) and the
secret key. In demo mode the same upstream checks run against the in-process emulator.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from botport.settings import COZE_CN, BotConfig, Settings

Status = Literal["ok", "warn", "fail", "info"]
PAT_PAGES = {
    "coze.com": "https://www.coze.com/open/oauth/pats",
    "coze.cn": "https://www.coze.cn/open/oauth/pats",
}
LIVE_QUESTION = "This is a connection test from botport doctor. Reply with one word: OK."
LIVE_TIMEOUT = 90.0
_DOCTOR_USER = "botport-doctor"
EMULATOR_URL = "http://emulator.invalid"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class _Envelope:
    """What a Coze call answered: HTTP status, envelope code (None: not an envelope) and message."""

    http_status: int
    code: int | None
    msg: str
    data: Any
    logid: str


def pat_page(base_url: str) -> str:
    return PAT_PAGES["coze.cn"] if base_url == COZE_CN else PAT_PAGES["coze.com"]


# --- upstream ---------------------------------------------------------------------------------------


@asynccontextmanager
async def _upstream(
    settings: Settings, transport: httpx.AsyncBaseTransport | None
) -> AsyncIterator[tuple[httpx.AsyncClient, str, SecretStr]]:
    """An HTTP client for Coze (or, in demo mode, the in-process emulator), its base URL and token."""
    timeout = httpx.Timeout(settings.connect_timeout, read=min(settings.read_timeout, LIVE_TIMEOUT))
    if settings.demo_mode:
        from botport.asgi_transport import StreamingASGITransport
        from botport.emulator.app import create_emulator_app

        token = secrets.token_urlsafe(24)
        emulator = create_emulator_app(tokens=[token])
        async with emulator.router.lifespan_context(emulator):
            emulated = StreamingASGITransport(emulator)
            async with httpx.AsyncClient(transport=emulated, timeout=timeout) as http:
                yield http, EMULATOR_URL, SecretStr(token)
            await emulated.aclose()
        return
    assert settings.coze_token is not None
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
        yield http, settings.coze_base_url, settings.coze_token


async def _get(http: httpx.AsyncClient, url: str, token: SecretStr, params: dict[str, str]) -> _Envelope:
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
    response = await http.get(url, params=params, headers=headers)
    logid = response.headers.get("x-tt-logid", "")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        return _Envelope(
            response.status_code, body["code"], str(body.get("msg") or ""), body.get("data"), logid
        )
    return _Envelope(response.status_code, None, "", None, logid)


def _with_logid(text: str, envelope: _Envelope) -> str:
    return f"{text} (log id {envelope.logid})" if envelope.logid else text


async def check_token(
    http: httpx.AsyncClient, base: str, token: SecretStr, bots: list[BotConfig]
) -> list[Check]:
    """Base URL reachable, token accepted: one cheap authenticated call (list conversations)."""
    params = {"page_num": "1", "page_size": "1"}
    if bots:
        params["bot_id"] = bots[0].bot_id
    try:
        answer = await _get(http, f"{base}/v1/conversations", token, params)
    except httpx.HTTPError as exc:
        return [
            Check(
                "Coze base URL",
                "fail",
                f"cannot reach {base}: {type(exc).__name__} {exc}".strip(),
                "check BOTPORT_COZE_BASE_URL (https://api.coze.com, https://api.coze.cn or your Coze "
                "Studio URL) and the network or proxy between this host and it",
            )
        ]
    if answer.code is None:
        return [
            Check(
                "Coze base URL",
                "fail",
                f"{base} answered HTTP {answer.http_status} without a Coze envelope",
                "BOTPORT_COZE_BASE_URL must be the API address (https://api.coze.com, not www.coze.com)",
            )
        ]
    where = "the built-in emulator" if base == EMULATOR_URL else base
    reachable = Check("Coze base URL", "ok", f"{where} answers")
    if answer.code == 4100 or answer.http_status == 401:
        why = _with_logid(f"rejected (4100 {answer.msg})".replace(" )", ")"), answer)
        fix = (
            f"the token is invalid or expired: make a new personal access token at {pat_page(base)} "
            "and set BOTPORT_COZE_TOKEN"
        )
        return [reachable, Check("Coze token", "fail", why, fix)]
    if answer.code == 4101:
        why = _with_logid(f"lacks a permission (4101 {answer.msg})", answer)
        fix = f"give the token the chat and conversation permissions at {pat_page(base)}"
        return [reachable, Check("Coze token", "fail", why, fix)]
    if answer.code != 0:
        why = _with_logid(f"the check call answered {answer.code}: {answer.msg}", answer)
        return [reachable, Check("Coze token", "warn", why)]
    return [reachable, Check("Coze token", "ok", "accepted")]


async def check_bot(http: httpx.AsyncClient, base: str, token: SecretStr, bot: BotConfig) -> Check:
    name = f"bot {bot.slug}"
    try:
        answer = await _get(http, f"{base}/v1/bot/get_online_info", token, {"bot_id": bot.bot_id})
    except httpx.HTTPError as exc:
        return Check(name, "fail", f"cannot ask Coze about it: {type(exc).__name__}")
    if answer.code == 0:
        title = answer.data.get("name", "") if isinstance(answer.data, dict) else ""
        return Check(name, "ok", f"published to the API channel ({title or bot.bot_id})")
    if answer.code is None:
        return Check(name, "warn", f"cannot tell whether it is published (HTTP {answer.http_status})")
    if answer.code == 4015:
        return Check(
            name,
            "fail",
            _with_logid(f"bot {bot.bot_id} is not published to the API channel", answer),
            "in Coze open the bot, Publish, tick 'API' (Agent as API) and publish again",
        )
    return Check(
        name,
        "fail",
        _with_logid(f"Coze answered {answer.code}: {answer.msg}", answer),
        "check the bot id (the number in the bot's URL on Coze) and that the token's account owns it",
    )


async def check_live_turn(http: httpx.AsyncClient, base: str, token: SecretStr, bot: BotConfig) -> Check:
    """A short real turn: the bot answers (costs tokens, so only with --live)."""
    from botport.errors import UpstreamError
    from botport.upstream.client import CozeClient
    from botport.upstream.events import ChatEventType
    from botport.upstream.models import EnterMessage

    name = f"bot {bot.slug} answers"
    coze = CozeClient(base_url=base, token=token, http=http)
    started = time.monotonic()
    text = ""
    tool_call = False
    try:
        async with asyncio.timeout(LIVE_TIMEOUT):
            question = [EnterMessage.user_text(LIVE_QUESTION)]
            async with coze.stream_chat(bot_id=bot.bot_id, user_id=_DOCTOR_USER, messages=question) as stream:
                async for event in stream:
                    message = event.message
                    if event.type is ChatEventType.MESSAGE_DELTA and message and message.type == "answer":
                        text += message.content
                    tool_call = tool_call or event.type is ChatEventType.CHAT_REQUIRES_ACTION
    except UpstreamError as exc:  # its text carries the code and the log id
        return Check(name, "fail", f"{type(exc).__name__}: {exc}")
    except TimeoutError:
        return Check(name, "fail", f"no complete answer within {LIVE_TIMEOUT:g} s")
    seconds = time.monotonic() - started
    excerpt = " ".join(text.split())[:40] or ("(asked for a tool call)" if tool_call else "(no text)")
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


async def run_checks(
    settings: Settings, *, live: bool = False, transport: httpx.AsyncBaseTransport | None = None
) -> list[Check]:
    """Every check, in report order. ``transport`` replaces the network to Coze (tests)."""
    from botport.bots import demo_bots

    checks: list[Check] = []
    if settings.demo_mode:
        checks.append(
            Check(
                "mode",
                "info",
                "demo mode: no Coze token is set, the built-in emulator answers (checked below)",
                "",
            )
        )
    bots = demo_bots() if settings.demo_mode and not settings.bots else settings.all_bots()
    if not bots:
        checks.append(
            Check("bots", "fail", "no bot configured", "set BOTPORT_BOT_ID, or [[bots]] in the config file")
        )
    async with _upstream(settings, transport) as (http, base, token):
        upstream = await check_token(http, base, token, bots)
        checks.extend(upstream)
        if all(c.status != "fail" for c in upstream):
            for bot in bots:
                checks.append(await check_bot(http, base, token, bot))
                if live:
                    checks.append(await check_live_turn(http, base, token, bot))
            if not live and bots:
                checks.append(
                    Check("bots answer", "info", "not tried: --live runs a short real turn per bot")
                )
    checks.append(await check_database(settings))
    checks.append(check_data_dir(settings.data_dir))
    checks.append(check_secret_key(settings))
    return checks
