"""How the interactive chat looks: the answer streams as plain text, then is re-rendered as markdown
when it completes; reasoning is dimmed; follow-ups are numbered; errors show their log id."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from botport.terminal.client import ApiError
from botport.terminal.turn import TurnOutcome

REASONING_STYLE = "dim italic"


class _Tail:
    """Only the last lines that fit the screen: a live region taller than the terminal cannot be
    redrawn in place (the top scrolls away), so while streaming the newest text is what shows."""

    def __init__(self, reasoning: str, text: str) -> None:
        self.reasoning = reasoning
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts = Text()
        if self.reasoning:
            parts.append(self.reasoning + ("\n\n" if self.text else ""), style=REASONING_STYLE)
        parts.append(self.text)
        lines = parts.wrap(console, options.max_width)
        room = max(3, console.size.height - 2)
        yield from list(lines)[-room:]


class TurnView:
    """The live view of one answer: a :class:`~botport.terminal.turn.TurnListener`."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.reasoning = ""
        self.text = ""
        self._live = Live(
            _Tail("", ""), console=console, transient=True, refresh_per_second=12, auto_refresh=True
        )

    def __enter__(self) -> TurnView:
        self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._live.stop()

    def on_reasoning(self, text: str) -> None:
        self.reasoning += text
        self._live.update(_Tail(self.reasoning, self.text))

    def on_text(self, text: str) -> None:
        self.text += text
        self._live.update(_Tail(self.reasoning, self.text))


def show_outcome(console: Console, outcome: TurnOutcome) -> None:
    """The finished answer: reasoning dimmed, the markdown rendered, then follow-ups or the error."""
    if outcome.reasoning:
        console.print(Text(outcome.reasoning.strip(), style=REASONING_STYLE))
        console.print()
    if outcome.content:
        console.print(Markdown(outcome.content))
    if outcome.status == "stopped":
        console.print(Text("(stopped)", style="yellow"))
    elif outcome.status == "requires_action":
        console.print(Text("(the bot asked for a tool call; the terminal cannot run tools)", style="yellow"))
    if outcome.error is not None:
        show_error(console, outcome.error, partial=bool(outcome.content))
    if outcome.follow_ups:
        console.print()
        for number, suggestion in enumerate(outcome.follow_ups, start=1):
            console.print(Text.assemble((f"  {number}. ", "cyan"), suggestion))
    console.print()


def show_error(console: Console, error: ApiError, *, partial: bool = False) -> None:
    prefix = "✗ the answer was cut off: " if partial else "✗ "
    console.print(Text(prefix + error.describe(), style="bold red"))


def show_message(console: Console, message: dict[str, Any]) -> None:
    """A stored message, for ``/open``."""
    if message.get("role") == "user":
        console.print(Text.assemble(("you › ", "bold green"), str(message.get("content", ""))))
        return
    if message.get("reasoning"):
        console.print(Text(str(message["reasoning"]).strip(), style=REASONING_STYLE))
    console.print(Group(Markdown(str(message.get("content", "")))))
    error = message.get("error")
    if isinstance(error, dict):
        show_error(
            console,
            ApiError(
                str(error.get("message", "")), code=str(error.get("code") or ""), logid=error.get("logid")
            ),
            partial=bool(message.get("content")),
        )
    console.print()
