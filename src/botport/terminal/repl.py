"""The interactive chat: a prompt, slash commands, and turns streamed into a live view.

The prompt is a plain blocking ``input()`` on the main thread (line editing, Ctrl-C and Ctrl-D work as
in any shell tool); each turn runs on one long-lived :class:`asyncio.Runner`, whose SIGINT handling
cancels the running turn on Ctrl-C. The turn then asks the server to stop it (``POST .../cancel``)
and the prompt comes back. The connection (and, in-process, the app's lifespan) is held open by a
task of its own on that runner, so it is entered and left in the same task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from botport.terminal.client import ApiError
from botport.terminal.connect import Connection
from botport.terminal.display import TurnView, show_error, show_message, show_outcome
from botport.terminal.turn import TurnOutcome, run_turn

PROMPT = "you › "
TITLE_CHARS = 60

HELP = """\
Type a question and press Enter. Commands:
  /new           start a new conversation with the current bot
  /history       list your recent conversations
  /open N|ID     continue a conversation from /history (its number or id)
  /bots          list the bots this server offers
  /bot SLUG      switch to another bot (starts a new conversation)
  /help          this help
  /exit          quit (Ctrl-D works too)
A number picks a suggested follow-up. Ctrl-C while an answer streams stops it.
Other text starting with / goes to the bot as a question (the demo bot knows /long, /slow, /fail)."""


class HeldConnection:
    """Keeps an async context (the connection) open in a task of its own between runner calls."""

    def __init__(self, opener: Callable[[], AbstractAsyncContextManager[Connection]]) -> None:
        self._opener = opener
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> Connection:
        ready: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()

        async def hold() -> None:
            try:
                async with self._opener() as connection:
                    ready.set_result(connection)
                    await self._stop.wait()
            except BaseException as exc:
                if ready.done():
                    raise
                ready.set_exception(exc)

        self._task = asyncio.create_task(hold())
        return await ready

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


@dataclass(slots=True)
class ChatState:
    bot: str
    conversation_id: str | None = None
    follow_ups: list[str] = field(default_factory=list)
    listed: list[dict[str, Any]] = field(default_factory=list)  # the last /history, for /open N


class ChatRepl:
    def __init__(
        self, runner: asyncio.Runner, connection: Connection, console: Console, state: ChatState
    ) -> None:
        self.runner = runner
        self.connection = connection
        self.client = connection.client
        self.console = console
        self.state = state

    def loop(self) -> None:
        while True:
            try:
                line = input(PROMPT).strip()
            except EOFError:
                self.console.print()
                return
            except KeyboardInterrupt:
                self.console.print("\n(Ctrl-D or /exit quits)")
                continue
            if not line:
                continue
            if line.isdigit() and 1 <= int(line) <= len(self.state.follow_ups):
                line = self.state.follow_ups[int(line) - 1]
                self.console.print(Text(f"› {line}", style="dim"))
            command, _, argument = line.partition(" ")
            if command in ("/exit", "/quit"):
                return
            handler = self._commands().get(command)
            try:
                if handler is not None:
                    handler(argument.strip())
                else:
                    self.ask(line)
            except ApiError as exc:
                show_error(self.console, exc)

    def _commands(self) -> dict[str, Callable[[str], None]]:
        return {
            "/help": lambda _: self.console.print(HELP, markup=False, highlight=False),
            "/new": self.new,
            "/history": self.history,
            "/open": self.open,
            "/bots": self.bots,
            "/bot": self.switch_bot,
        }

    # --- commands ---------------------------------------------------------------------------------

    def new(self, _: str = "") -> None:
        self.state.conversation_id = None
        self.state.follow_ups = []
        self.console.print(Text(f"New conversation with {self.state.bot}.", style="cyan"))

    def history(self, _: str) -> None:
        items = self.runner.run(self.client.conversations(limit=20))
        self.state.listed = items
        if not items:
            self.console.print("No conversations yet.")
            return
        table = Table("#", "title", "bot", "updated", "id", box=None, header_style="bold")
        for number, item in enumerate(items, start=1):
            current = "*" if item["id"] == self.state.conversation_id else ""
            table.add_row(
                f"{number}{current}",
                item.get("title") or "(untitled)",
                item["bot"],
                str(item["updated_at"])[:16].replace("T", " "),
                item["id"],
            )
        self.console.print(table)
        self.console.print("/open N continues one.", style="dim")

    def open(self, argument: str) -> None:
        if not argument:
            self.console.print("Usage: /open N|ID (see /history)")
            return
        conversation_id = argument
        if argument.isdigit() and 1 <= int(argument) <= len(self.state.listed):
            conversation_id = self.state.listed[int(argument) - 1]["id"]
        conversation = self.runner.run(self.client.conversation(conversation_id))
        messages = self.runner.run(self.client.messages(conversation_id))
        self.state.conversation_id = conversation_id
        self.state.bot = conversation["bot"]
        self.state.follow_ups = []
        title = conversation.get("title") or "(untitled)"
        self.console.print(Text(f"Conversation {title} with {self.state.bot}:", style="cyan"))
        for message in messages:
            show_message(self.console, message)

    def bots(self, _: str) -> None:
        table = Table("", "slug", "name", "description", box=None, header_style="bold")
        for bot in self.runner.run(self.client.bots()):
            mark = "*" if bot["slug"] == self.state.bot else ""
            table.add_row(mark, bot["slug"], bot["name"], bot.get("description", ""))
        self.console.print(table)

    def switch_bot(self, slug: str) -> None:
        if not slug:
            self.console.print("Usage: /bot SLUG (see /bots)")
            return
        slugs = [bot["slug"] for bot in self.runner.run(self.client.bots())]
        if slug not in slugs:
            self.console.print(
                Text(f"✗ no bot {slug!r}; this server offers: {', '.join(slugs)}", style="red")
            )
            return
        self.state.bot = slug
        self.new()

    # --- a turn -----------------------------------------------------------------------------------

    def ask(self, question: str) -> None:
        try:
            outcome = self.runner.run(self._turn(question))
        except KeyboardInterrupt:  # Ctrl-C before the answer started
            self.console.print(Text("(stopped)", style="yellow"))
            return
        self.state.follow_ups = outcome.follow_ups
        show_outcome(self.console, outcome)

    async def _turn(self, question: str) -> TurnOutcome:
        if self.state.conversation_id is None:
            created = await self.client.create_conversation(self.state.bot, title=question[:TITLE_CHARS])
            self.state.conversation_id = created["id"]
        conversation_id = self.state.conversation_id
        view = TurnView(self.console)
        with view:
            try:
                return await run_turn(self.client, conversation_id, question, view)
            except asyncio.CancelledError:
                # Ctrl-C: the runner cancelled this task. Take the cancellation back and stop the turn.
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                outcome = TurnOutcome(conversation_id, content=view.text, reasoning=view.reasoning)
                outcome.status = "stopped"
                try:
                    await self.client.cancel(conversation_id)
                except ApiError as exc:
                    outcome.error = exc
                return outcome


def banner(console: Console, connection: Connection, bot: str) -> None:
    where = "in-process" if connection.where == "in-process" else connection.where
    console.print(Text.assemble(("botport chat", "bold"), f" · {where} · bot {bot} · /help for commands"))
    if connection.demo_mode:
        console.print(Text("Demo mode: no Coze token is set, the built-in emulator answers.", style="yellow"))
