"""The demo bots' scripts: pure functions from a turn's context to its plan.

The demo bot shows that context works (turn number, previous question) and quotes the question
verbatim, so tests can push HTML or script payloads through it. Commands at the start of a question:
``/slow`` (0.3 s between deltas), ``/long`` (~300 words with a code block and a table), ``/fail``
(``chat.failed`` after a few deltas), ``/error`` (an ``error`` event mid-stream), ``/math`` (a formula,
a task list, a footnote and a bare URL: the richer markdown the page renders).
"""

from __future__ import annotations

import json
import re

from botport.emulator.plan import AttachedFile, ToolCallPlan, TurnContext, TurnPlan

DEMO_FOLLOW_UPS = (
    "What did I ask before?",
    "/long Show me a long answer",
    "/slow Stream this one slowly",
)


def _quote(text: str) -> str:
    if not text:
        return "*(no text)*"
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def _context_line(ctx: TurnContext) -> str:
    if not ctx.previous_questions:
        return "This is the first question in this conversation."
    return f"Before that you asked: *{ctx.previous_questions[-1]}*"


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _described(item: AttachedFile) -> str:
    article = "a" if item.kind == "file" else "an"
    if item.url:
        return f"{article} {item.kind} at {item.url} (not downloaded: the emulator works offline)"
    if not item.name:
        return f"{article} {item.kind} the emulator has no upload for"
    facts = [item.content_type, _size(item.size)]
    if item.width and item.height:
        facts.append(f"{item.width}×{item.height}")
    return f"{item.name} ({', '.join(facts)})"


def _attachment_line(ctx: TurnContext) -> str:
    """What the question carried: each upload's name, type, size and an image's dimensions, or the
    address of a file by URL."""
    if not ctx.files:
        return ""
    count = len(ctx.files)
    listed = "; ".join(_described(item) for item in ctx.files)
    return f"\n\nYou attached {count} file{'s' if count != 1 else ''}: {listed}."


def _reasoning(ctx: TurnContext) -> str:
    return (
        f"The user sent question number {ctx.turn} of this conversation. "
        "I will quote it back and recall the previous one."
    )


def _demo_answer(ctx: TurnContext, question: str) -> str:
    return (
        f"**Turn {ctx.turn}.** You said:\n\n{_quote(question)}\n\n{_context_line(ctx)}"
        f"{_attachment_line(ctx)}\n\n"
        "This answer comes from the **offline Coze emulator**, streamed word by word. "
        "Try `/long`, `/slow`, `/fail` or `/error` at the start of a question."
    )


def _long_answer(ctx: TurnContext, question: str) -> str:
    paragraph = (
        "The emulator speaks the same wire protocol as Coze: every answer arrives as a sequence of "
        "server-sent events, each a small JSON object that carries one increment of the text. A client "
        "joins the increments, renders the markdown as it grows, and stops when the chat completes. "
    )
    return (
        f"**Turn {ctx.turn}.** A long answer to:\n\n{_quote(question)}\n\n{_context_line(ctx)}\n\n"
        "## How streaming works\n\n" + paragraph * 2 + "\n\n## A code block\n\n"
        "```python\n"
        "from cozepy import Coze, Message, TokenAuth\n\n"
        "coze = Coze(auth=TokenAuth('demo-token'), base_url='http://127.0.0.1:8401')\n"
        "for event in coze.chat.stream(bot_id=BOT_ID, user_id='me',\n"
        "                              additional_messages=[Message.build_user_question_text('hi')]):\n"
        "    if event.message and event.event == 'conversation.message.delta':\n"
        "        print(event.message.content, end='', flush=True)\n"
        "```\n\n"
        "## A table\n\n"
        "| event | what it carries | ends the turn |\n"
        "|---|---|---|\n"
        "| `conversation.chat.created` | the chat | no |\n"
        "| `conversation.message.delta` | a piece of the answer | no |\n"
        "| `conversation.message.completed` | a whole message | no |\n"
        "| `conversation.chat.completed` | the chat with usage | yes |\n"
        "| `conversation.chat.failed` | the chat with `last_error` | yes |\n\n"
        "## Why it matters\n\n"
        + paragraph
        + "Because the emulator runs offline, demos and tests need neither a network nor a token, "
        "and its fault knobs make the slow, failing and broken cases easy to reproduce on demand."
    )


def _math_answer(ctx: TurnContext, question: str) -> str:
    return (
        f"**Turn {ctx.turn}.** Rich markdown for:\n\n{_quote(question)}\n\n"
        "Euler's identity $e^{i\\pi} + 1 = 0$ links five constants.[^euler] "
        "The roots of $ax^2 + bx + c = 0$ are\n\n"
        "$$\nx = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}\n$$\n\n"
        "A price like $5 and $10 stays text.\n\n"
        "- [x] render the formula on the server\n"
        "- [ ] read more at https://en.wikipedia.org/wiki/Quadratic_formula\n\n"
        "[^euler]: Leonhard Euler, *Introductio in analysin infinitorum*, 1748."
    )


def demo_script(ctx: TurnContext) -> TurnPlan:
    words = ctx.question.split(maxsplit=1)
    command = words[0] if words else ""
    question = ctx.question
    if command == "/long":
        return TurnPlan(
            answer=_long_answer(ctx, question), reasoning=_reasoning(ctx), follow_ups=DEMO_FOLLOW_UPS
        )
    if command == "/math":
        return TurnPlan(answer=_math_answer(ctx, question), follow_ups=DEMO_FOLLOW_UPS)
    answer = _demo_answer(ctx, question)
    if command == "/slow":
        return TurnPlan(answer=answer, reasoning=_reasoning(ctx), follow_ups=DEMO_FOLLOW_UPS, delta_delay=0.3)
    if command == "/fail":
        return TurnPlan(
            answer=answer,
            ending="failed",
            stop_after=6,
            error=(5000, "The demo bot failed on purpose (/fail)."),
        )
    if command == "/error":
        return TurnPlan(
            answer=answer,
            ending="error",
            stop_after=6,
            error=(5000, "The demo bot broke the stream (/error)."),
        )
    return TurnPlan(answer=answer, reasoning=_reasoning(ctx), follow_ups=DEMO_FOLLOW_UPS)


def _city(question: str) -> str:
    match = re.search(r"\b(?:in|at|for)\s+([^\W\d_][\w\s-]*?)\s*[?.!]*$", question.strip())
    return match.group(1).strip() if match else "Paris"


def weather_script(ctx: TurnContext) -> TurnPlan:
    """Every question needs the ``get_weather`` tool; the answer uses the submitted output verbatim."""
    if not ctx.tool_outputs:
        arguments = json.dumps({"city": _city(ctx.question)}, ensure_ascii=False)
        return TurnPlan(ending="requires_action", tool_calls=(ToolCallPlan("get_weather", arguments),))
    city = "the city"
    if ctx.tool_arguments:
        city = str(json.loads(ctx.tool_arguments[0]).get("city", city))
    outputs = "; ".join(output for _, output in ctx.tool_outputs)
    return TurnPlan(
        answer=f"The weather in **{city}**: {outputs}",
        tool_responses=tuple(output for _, output in ctx.tool_outputs),
        follow_ups=("And tomorrow?", "What about in London?", "Should I take an umbrella?"),
    )


def failing_script(ctx: TurnContext) -> TurnPlan:
    return TurnPlan(
        answer="Let me think about that for a moment, I am almost there...",
        ending="failed",
        stop_after=4,
        error=(5000, "Failing demo: the model service is unavailable (scripted failure)."),
    )
