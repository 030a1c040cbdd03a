"""The MCP tools: one per configured bot, ``ask_<slug>``, with the bot's name and description, an input
of ``question`` and an optional ``conversation_id``, and the answer as output."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import mcp_types as types

from botport.bots import BotRegistry
from botport.settings import BotConfig

PREFIX = "ask_"

# What a stored id can be (botport's are 32 hex digits): anything else is no conversation, and never
# reaches the database (a NUL or a lone surrogate would make it fail rather than answer "none").
_PLAUSIBLE_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


def plausible_id(value: str) -> bool:
    return bool(_PLAUSIBLE_ID.match(value))


INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {
            "type": "string",
            "minLength": 1,
            "description": "The question or message for the bot, in the user's words.",
        },
        "conversation_id": {
            "type": "string",
            "description": (
                "Leave out to start a new conversation. To ask a follow-up, pass the conversation_id "
                "of an earlier answer of this tool: the bot then remembers that conversation."
            ),
        },
        "images": {
            "type": "array",
            "items": {"type": "string"},
            "description": (
                "Optional images for the bot to look at with the question: each a data: URL "
                "(data:image/png;base64,...) or an https URL the bot can fetch."
            ),
        },
    },
    "required": ["question"],
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "description": "The bot's answer (Markdown)."},
        "conversation_id": {
            "type": "string",
            "description": "Pass it back with the next question to keep the bot's context.",
        },
        "follow_ups": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Questions the bot suggests asking next.",
        },
    },
    "required": ["answer", "conversation_id", "follow_ups"],
}


def tool_name(slug: str) -> str:
    """A slug is 1-64 of ``[a-z0-9_-]``, so the name is a valid MCP tool name (at most 128 of
    ``[A-Za-z0-9_.-]``)."""
    return f"{PREFIX}{slug}"


def describe(bot: BotConfig) -> str:
    """What a model reads to decide when to call the tool and how to follow up."""
    about = bot.description.strip() or f"A Coze bot served by botport, {bot.name}."
    return (
        f"Ask {bot.name}. {about}\n\n"
        "Returns the bot's answer (Markdown) and a conversation_id. To ask a follow-up in the same "
        "conversation, call this tool again with that conversation_id, so the bot keeps the context; "
        "leave it out to start afresh. Show the answer to the user as it is."
    )


def tools_for(bots: BotRegistry) -> list[types.Tool]:
    return [
        types.Tool(
            name=tool_name(bot.slug),
            title=bot.name,
            description=describe(bot),
            input_schema=INPUT_SCHEMA,
            output_schema=OUTPUT_SCHEMA,
            # Each call asks the bot anew (a Coze chat, stored): neither read-only nor idempotent, and
            # the bot may reach beyond botport (its own plugins); it deletes nothing.
            annotations=types.ToolAnnotations(
                title=bot.name,
                read_only_hint=False,
                destructive_hint=False,
                idempotent_hint=False,
                open_world_hint=True,
            ),
        )
        for bot in bots
    ]


def bot_of(bots: BotRegistry, name: str) -> BotConfig | None:
    """The bot a tool name asks, or None for a name that is not one of these tools."""
    if not name.startswith(PREFIX):
        return None
    slug = name.removeprefix(PREFIX)
    return next((bot for bot in bots if bot.slug == slug), None)


@dataclass(frozen=True, slots=True)
class Question:
    """A tool call's arguments, read leniently: models add fields of their own, send ``""`` or
    ``null`` for an optional one, and pad ids with spaces."""

    question: str
    conversation_id: str | None
    images: tuple[str, ...] = ()  # data: or https URLs


class ArgumentError(ValueError):
    """The arguments are not a question; the message says what to send instead."""


def question_of(arguments: dict[str, Any] | None) -> Question:
    args = arguments or {}
    question = args.get("question")
    if not isinstance(question, str):
        raise ArgumentError("the argument 'question' is required and must be a string (the user's question)")
    if not question.strip():
        raise ArgumentError("the question is empty; ask the bot something")
    conversation_id = args.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise ArgumentError("'conversation_id' must be a string: the conversation_id of an earlier answer")
    images = args.get("images") or []
    if isinstance(images, str):  # one image, as models sometimes send it
        images = [images]
    if not isinstance(images, list) or not all(isinstance(i, str) and i.strip() for i in images):
        raise ArgumentError("'images' must be a list of image URLs: data: URLs or https URLs")
    return Question(
        question.strip(), (conversation_id or "").strip() or None, tuple(i.strip() for i in images)
    )
