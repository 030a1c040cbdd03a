"""The caller's conversations as MCP resources, ``botport://conversations/{id}``, read as Markdown (the
export the web page downloads). Anyone else's conversation is "not found", as everywhere in botport."""

from __future__ import annotations

import mcp_types as types
from mcp.shared.exceptions import MCPError

from botport.api.deps import Services
from botport.api.transfer import export_of, to_markdown
from botport.errors import BadRequestError
from botport.identity import Identity
from botport.mcp.tools import plausible_id
from botport.store import repository as repo
from botport.store.attachments import attachments_of
from botport.store.records import ConversationRecord

SCHEME = "botport://conversations/"
TEMPLATE = SCHEME + "{conversation_id}"
MARKDOWN = "text/markdown"
PAGE = 50  # conversations a listing returns; ``nextCursor`` leads to the next ones


def uri_of(conversation_id: str) -> str:
    return SCHEME + conversation_id


def _bot_name(services: Services, slug: str) -> str:
    return next((b.name for b in services.bots if b.slug == slug), slug)


def _resource(services: Services, record: ConversationRecord) -> types.Resource:
    updated = record.updated_at.strftime("%Y-%m-%d %H:%M UTC")
    bot = _bot_name(services, record.bot)
    return types.Resource(
        uri=uri_of(record.id),
        name=record.title or f"Conversation {record.id[:8]}",
        title=record.title or None,
        description=f"A conversation with {bot} (bot {record.bot}), last active {updated}",
        mime_type=MARKDOWN,
    )


async def list_conversations(
    services: Services, identity: Identity, cursor: str | None
) -> types.ListResourcesResult:
    """The caller's conversations, most recently active first, a page at a time."""
    try:
        async with services.db.read() as conn:
            page = await repo.list_conversations(conn, owner=identity.owner, limit=PAGE, before=cursor)
    except BadRequestError:
        raise MCPError(
            types.INVALID_PARAMS, "invalid cursor: pass back the nextCursor of a listing"
        ) from None
    return types.ListResourcesResult(
        resources=[_resource(services, record) for record in page.items], next_cursor=page.next_cursor
    )


def templates() -> types.ListResourceTemplatesResult:
    return types.ListResourceTemplatesResult(
        resource_templates=[
            types.ResourceTemplate(
                uri_template=TEMPLATE,
                name="conversation",
                title="A botport conversation",
                description="One of your conversations with a bot, as Markdown (ids come with each answer).",
                mime_type=MARKDOWN,
            )
        ]
    )


async def read_conversation(services: Services, identity: Identity, uri: str) -> types.ReadResourceResult:
    """The conversation as Markdown: its messages as the reader sees them (an answer still being
    written is left out)."""
    conversation_id = uri.removeprefix(SCHEME) if uri.startswith(SCHEME) else ""
    if not plausible_id(conversation_id) or "/" in conversation_id:
        raise MCPError(types.INVALID_PARAMS, f"unknown resource {uri!r}; conversations are {TEMPLATE}")
    async with services.db.read() as conn:
        record = await repo.get_conversation(conn, owner=identity.owner, conversation_id=conversation_id)
        messages = await repo.list_messages(conn, conversation_id=conversation_id) if record else []
        questions = [m.id for m in messages if m.role == "user"]
        files = await conn.run_sync(lambda sync: attachments_of(sync, message_ids=questions))
    if record is None:
        # -32602, as the current protocol has it (2025's -32002 is retired): the same for someone else's.
        raise MCPError(
            types.INVALID_PARAMS, f"no conversation {conversation_id!r} for this caller", data={"uri": uri}
        )
    markdown = to_markdown(export_of(record, messages, files), bot_name=_bot_name(services, record.bot))
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=uri, mime_type=MARKDOWN, text=markdown)]
    )
