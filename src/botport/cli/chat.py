"""``botport chat``: talk to a bot from the terminal, interactively or once for scripts (``-m``).

Without ``--url`` botport runs inside this process, from the same settings as ``botport serve``
(demo mode without a Coze token). With ``--url`` it talks to a running botport with an API key.
``-m`` prints the answer alone on stdout (its markdown text); diagnostics go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from botport.cli.options import ConfigOption, KeyOption, UrlOption, fail, load, say_data_dir
from botport.terminal.client import ApiError, BotportClient
from botport.terminal.connect import Connection, connect_in_process, connect_remote
from botport.terminal.turn import run_turn

Opener = Callable[[], AbstractAsyncContextManager[Connection]]


def _opener(url: str | None, key: str | None, config: Path | None) -> Opener:
    if url:
        if not key:
            fail(
                "--url needs a botport API key: --key or BOTPORT_API_KEY "
                "(make one on the server with `botport keys create NAME`)",
                2,
            )
        return lambda: connect_remote(url, key)
    settings = load(config)
    say_data_dir(settings)
    return lambda: connect_in_process(settings)


class _Stdout:
    """``-m``: the answer's text goes to stdout as it arrives; reasoning is not part of the answer."""

    def __init__(self) -> None:
        self.last = "\n"

    def on_reasoning(self, text: str) -> None:
        pass

    def on_text(self, text: str) -> None:
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
            self.last = text[-1]


async def _conversation_for(
    client: BotportClient, bot: str | None, conversation: str | None, title: str
) -> str:
    if conversation:
        found = await client.conversation(conversation)
        if bot and found["bot"] != bot:
            typer.echo(
                f"botport: conversation {conversation} is with bot {found['bot']}; --bot ignored", err=True
            )
        return conversation
    created = await client.create_conversation(bot, title=title[:60])
    return str(created["id"])


async def ask_once(opener: Opener, question: str, *, bot: str | None, conversation: str | None) -> int:
    """One turn for scripts. Returns the exit code: 0 answered, 1 failed."""
    async with opener() as connection:
        if connection.demo_mode:
            typer.echo("botport: demo mode: no Coze token is set, the built-in emulator answers", err=True)
        conversation_id = await _conversation_for(connection.client, bot, conversation, question)
        typer.echo(f"botport: conversation {conversation_id}", err=True)
        stdout = _Stdout()
        outcome = await run_turn(connection.client, conversation_id, question, stdout)
        if stdout.last != "\n":
            sys.stdout.write("\n")
            sys.stdout.flush()
    if outcome.error is not None:
        typer.echo(f"botport: {outcome.error.describe()}", err=True)
        return 1
    if outcome.status == "requires_action":
        typer.echo("botport: the bot asked for a tool call; the terminal cannot run tools", err=True)
        return 1
    return 0


def _interactive(opener: Opener, *, bot: str | None, conversation: str | None) -> None:
    from botport.terminal.repl import ChatRepl, ChatState, HeldConnection, banner

    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401 - line editing and history for input()
    console = Console(highlight=False)
    held = HeldConnection(opener)
    with asyncio.Runner() as runner:
        connection = runner.run(held.open())
        try:
            slugs = [b["slug"] for b in runner.run(connection.client.bots())]
            if bot and bot not in slugs:
                fail(f"no bot {bot!r}; this server offers: {', '.join(slugs)}", 2)
            state = ChatState(bot=bot or slugs[0])
            repl = ChatRepl(runner, connection, console, state)
            banner(console, connection, state.bot)
            if conversation:
                repl.open(conversation)
            repl.loop()
        finally:
            runner.run(held.close())


def chat(
    message: Annotated[
        str | None,
        typer.Option(
            "--message", "-m", help="Ask once and print the answer alone on stdout ('-': read stdin)."
        ),
    ] = None,
    bot: Annotated[str | None, typer.Option("--bot", "-b", help="Bot slug (default: the first bot).")] = None,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Continue this conversation (its id).")
    ] = None,
    url: UrlOption = None,
    key: KeyOption = None,
    config: ConfigOption = None,
) -> None:
    """Chat with a bot in the terminal, or ask once with -m for scripts."""
    logging.basicConfig(level=logging.ERROR, format="botport: %(levelname)s %(name)s: %(message)s")
    opener = _opener(url, key, config)
    try:
        if message is None:
            _interactive(opener, bot=bot, conversation=conversation)
            return
        question = sys.stdin.read() if message == "-" else message
        if not question.strip():
            fail("the question is empty", 2)
        code = asyncio.run(ask_once(opener, question.strip(), bot=bot, conversation=conversation))
    except ApiError as exc:
        fail(exc.describe())
    except ValueError as exc:  # create_app: no bot configured, a bad database URL
        fail(str(exc), 2)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if code:
        raise typer.Exit(code)
