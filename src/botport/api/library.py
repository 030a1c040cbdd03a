"""The reader's library: search their conversations, list the pinned ones, export a conversation as
Markdown or JSON and import such a JSON file as a new conversation. See docs/api.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from botport.api.deps import IdentityDep, ServicesDep
from botport.api.library_schemas import (
    ConversationExport,
    PinnedList,
    SearchResult,
    SearchResults,
    SnippetPart,
)
from botport.api.responses import ErrorBody, errors
from botport.api.schemas import NON_BLANK, ConversationPublic
from botport.api.transfer import attachment, export_of, imported_messages, to_markdown
from botport.errors import NotFoundError
from botport.store import repository as repo
from botport.store.attachments import attachments_of
from botport.store.pins import list_pinned
from botport.store.search import MAX_QUERY_CHARS, MAX_RESULTS, SearchHit, search_conversations
from botport.store.transfer import import_conversation

router = APIRouter(
    prefix="/api", tags=["library"], responses=errors(ErrorBody, 400, 401, 403, 404, 408, 413, 422, 429)
)


@router.get("/search", response_model=SearchResults)
async def search(
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_QUERY_CHARS,
            description="Words to find, all of them, in titles and messages.",
            json_schema_extra={"pattern": NON_BLANK},
        ),
    ],
    identity: IdentityDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 20,
) -> SearchResults:
    """The caller's conversations whose title or messages hold every word of ``q``, best first. A
    word of three or more characters may be part of a longer one (on PostgreSQL: the start of one)."""
    owner = identity.owner
    hits = await services.db.read_op(
        lambda conn: search_conversations(conn, owner=owner, query=q, limit=limit)
    )
    return SearchResults(items=[_result(hit) for hit in hits])


def _result(hit: SearchHit) -> SearchResult:
    base = ConversationPublic.of(hit.conversation)
    parts = [SnippetPart(text=text, match=matched) for text, matched in hit.snippet]
    return SearchResult(**base.model_dump(), message_id=hit.message_id, snippet=parts)


@router.get("/pinned", response_model=PinnedList)
async def pinned(identity: IdentityDep, services: ServicesDep) -> PinnedList:
    """The caller's pinned conversations, most recently active first (pin with PATCH
    /api/conversations/{id} ``{"pinned": true}``)."""
    owner = identity.owner
    records = await services.db.read_op(lambda conn: list_pinned(conn, owner=owner))
    return PinnedList(items=[ConversationPublic.of(r) for r in records])


@router.get(
    "/conversations/{conversation_id}/export",
    response_model=ConversationExport,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
async def export_conversation(
    conversation_id: str,
    identity: IdentityDep,
    services: ServicesDep,
    format: Annotated[Literal["json", "md"], Query(description="json (to import again) or md")] = "json",
) -> Response:
    """The conversation as a file to download: its messages as the reader sees them (an answer still
    being written, or waiting for tool outputs, is left out)."""
    async with services.db.read() as conn:
        record = await repo.get_conversation(conn, owner=identity.owner, conversation_id=conversation_id)
        if record is None:
            raise NotFoundError("no such conversation", code="conversation_not_found")
        messages = await repo.list_messages(conn, conversation_id=conversation_id)
        questions = [m.id for m in messages if m.role == "user"]
        files = await conn.run_sync(lambda sync: attachments_of(sync, message_ids=questions))
    export = export_of(record, messages, files)
    if format == "md":
        bot = next((b for b in services.bots if b.slug == record.bot), None)
        body, media_type = to_markdown(export, bot_name=bot.name if bot else record.bot), "text/markdown"
    else:
        body, media_type = export.model_dump_json(indent=2), "application/json"
    disposition = attachment(record.title, record.id, format)
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


@router.post("/import", status_code=201, response_model=ConversationPublic)
async def import_file(
    body: ConversationExport, identity: IdentityDep, services: ServicesDep
) -> ConversationPublic:
    """A new conversation of the caller's with the file's messages (an export of botport's). It has
    no Coze conversation yet: its next message starts one."""
    bot = services.bots.get(body.conversation.bot)  # 404 unknown_bot
    owner, title = identity.owner, body.conversation.title.strip()
    items = imported_messages(body)
    created_at = body.conversation.created_at or (items[0].created_at if items else datetime.now(UTC))
    record = await services.db.write(
        lambda conn: import_conversation(
            conn, owner=owner, bot=bot.slug, title=title, created_at=created_at, items=items
        )
    )
    return ConversationPublic.of(record)
