"""Context without replay: map an OpenAI request (the whole history, every time) to a stored
conversation, so that Coze gets only the new turn in the Coze conversation it already has.

The rule (docs/openai.md):

- ``system`` / ``developer`` messages are ignored (a Coze bot has its own persona and prompt); so are
  ``tool`` messages and assistant messages that carry ``tool_calls`` when they are history.
- The other earlier messages become ``(role, text)`` turns (user text stripped, as botport stores it).
  With ``X-Botport-Conversation-Id`` that conversation is used. Otherwise a conversation of the same
  key and bot whose completed messages are exactly those turns is continued. When the turns end
  inside a stored conversation instead (the client edited an earlier question, or asks for another
  answer), the question starts a branch there: a new version, with a new Coze conversation seeded with
  those turns (:mod:`botport.chat.seeding`), as the page's edit and regenerate do. When nothing
  matches, a new conversation is started with those turns stored and sent to Coze once as
  ``additional_messages``.
- A request ending in ``tool`` messages submits their outputs to the chat paused on those tool calls.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from botport.api.openai_errors import OpenAIError, with_param
from botport.api.openai_files import InputFile, chat_part
from botport.api.openai_schemas import ChatMessageIn
from botport.chat.handles import ToolResult, TurnRequest, conversation_target
from botport.chat.text import require_unicode, title_from
from botport.errors import BadRequestError, NotFoundError
from botport.identity import Identity
from botport.settings import BotConfig
from botport.store import repository as repo
from botport.store.db import Database
from botport.store.history import find_branch_point, find_conversation_by_history, find_paused_message
from botport.store.records import ConversationRecord, MessageRecord
from botport.store.thread import children_of, conversation_rows
from botport.store.turns import BranchPoint, NewConversation

MAX_EARLIER_TURNS = 99  # Coze takes at most 100 additional_messages, the question being the last
MAX_MESSAGES = 1000  # in one request (a longer chat goes on with X-Botport-Conversation-Id)
_HISTORY_ROLES = ("user", "assistant")
_IGNORED_ROLES = ("system", "developer")


@dataclass(frozen=True, slots=True)
class NewQuestion:
    content: str
    earlier: tuple[tuple[str, str], ...]
    files: tuple[InputFile, ...] = ()  # the question's images and files (botport.api.openai_files)


@dataclass(frozen=True, slots=True)
class BranchFrom:
    """A new version in a stored conversation: the question follows ``point``; ``store_question``
    False: the point is that same question, asked again (another answer to it)."""

    conversation_id: str
    point: BranchPoint
    store_question: bool


@dataclass(frozen=True, slots=True)
class ToolResults:
    outputs: tuple[ToolResult, ...]


def _bad(message: str, code: str = "invalid_messages", param: str = "messages") -> OpenAIError:
    return with_param(BadRequestError(message, code=code), param)


def text_of(message: ChatMessageIn, index: int, files: list[InputFile] | None = None) -> str:
    """The message's text; a content array gives its text parts joined by newlines. Its images and
    files go to ``files`` (the question's); given None (history), they are passed over: Coze has them
    in its conversation already, or they are not sent again."""
    text = _text_of(message, index, files)
    try:
        require_unicode(text)
    except BadRequestError as exc:
        raise with_param(exc, f"messages[{index}].content") from None
    return text


def _text_of(message: ChatMessageIn, index: int, files: list[InputFile] | None) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for number, part in enumerate(content):
        if part.type == "text":
            texts.append(part.text or "")
            continue
        if message.role != "user":
            raise _bad(
                f"messages[{index}] holds a {part.type!r} part; only a user message may hold images "
                "and files",
                code="unsupported_content",
            )
        found = chat_part(part.model_dump(), f"messages[{index}].content[{number}]")
        if files is not None and found is not None:
            files.append(found)
    return "\n".join(texts)


def read_messages(messages: list[ChatMessageIn]) -> NewQuestion | ToolResults:
    """What the request asks: a new question (with its history) or tool results for a paused chat."""
    if len(messages) > MAX_MESSAGES:
        # The history is stored and matched with each request: a bound keeps that cheap for everyone.
        raise with_param(
            BadRequestError(
                f"messages holds {len(messages)} messages; the limit is {MAX_MESSAGES}",
                code="too_many_messages",
                status=413,
            ),
            "messages",
        )
    indexed = [(i, m) for i, m in enumerate(messages) if m.role not in _IGNORED_ROLES]
    if not indexed:
        raise _bad("messages holds no user message", code="empty_message")
    last_index, last = indexed[-1]
    if last.role == "tool":
        return ToolResults(tuple(_tool_outputs(indexed)))
    if last.role != "user":
        raise _bad(f"the last message must be from the user or a tool, not {last.role!r}")
    earlier = tuple(
        (m.role, text.strip() if m.role == "user" else text)
        for i, m in indexed[:-1]
        if m.role in _HISTORY_ROLES and not (m.role == "assistant" and m.tool_calls)
        for text in (text_of(m, i),)
    )
    files: list[InputFile] = []
    content = text_of(last, last_index, files)
    return NewQuestion(content=content, earlier=earlier, files=tuple(files))


def _tool_outputs(indexed: list[tuple[int, ChatMessageIn]]) -> list[ToolResult]:
    outputs: list[ToolResult] = []
    for index, message in reversed(indexed):
        if message.role != "tool":
            break
        if not message.tool_call_id:
            raise _bad(f"messages[{index}] (role tool) needs tool_call_id")
        outputs.append(ToolResult(tool_call_id=message.tool_call_id, output=text_of(message, index)))
    outputs.reverse()
    return outputs


# --- finding the conversation -----------------------------------------------------------------


async def _owned(
    conn: AsyncConnection, owner: str, conversation_id: str, bot: BotConfig
) -> ConversationRecord:
    conversation = await repo.get_conversation(conn, owner=owner, conversation_id=conversation_id)
    if conversation is None:
        raise NotFoundError("no such conversation", code="conversation_not_found")
    if conversation.bot != bot.slug:
        raise _bad(
            f"conversation {conversation_id} belongs to model {conversation.bot!r}",
            code="model_mismatch",
            param="model",
        )
    return conversation


async def conversation_for_question(
    db: Database, identity: Identity, bot: BotConfig, question: NewQuestion, explicit_id: str | None
) -> str | NewConversation | BranchFrom:
    """The id of the conversation to ask in, the branch to start in one, or the conversation that the
    turn's start creates (with the earlier turns stored, in the same write: a refused request leaves
    nothing behind)."""
    owner = identity.owner
    if explicit_id or question.earlier:
        async with db.read() as conn:
            if explicit_id:
                return (await _owned(conn, owner, explicit_id, bot)).id
            found = await find_conversation_by_history(
                conn, owner=owner, bot=bot.slug, turns=question.earlier
            )
            if found is not None:
                return found.id
            point = await find_branch_point(conn, owner=owner, bot=bot.slug, turns=question.earlier)
            if point is not None:
                rows = await conn.run_sync(conversation_rows, conversation_id=point.conversation_id)
                return _branch_from(point, rows, question.content.strip())
    first_question = next((text for role, text in question.earlier if role == "user"), "")
    return NewConversation(bot.slug, title_from(first_question), question.earlier)


def _branch_from(point: MessageRecord, rows: list[MessageRecord], question: str) -> BranchFrom:
    """The same question already asked after ``point``: another answer to it (as regenerating does);
    otherwise a new question there (as editing does)."""
    asked = next(
        (m for m in children_of(rows).get(point.id, []) if m.role == "user" and m.content == question), None
    )
    if asked is not None:
        return BranchFrom(point.conversation_id, BranchPoint(asked.id), store_question=False)
    return BranchFrom(point.conversation_id, BranchPoint(point.id), store_question=True)


def turn_request(
    found: str | NewConversation | BranchFrom,
    identity: Identity,
    question: NewQuestion,
    *,
    key: str | None,
    digest: str,
) -> TurnRequest:
    """The turn that asks ``question`` where :func:`conversation_for_question` found to ask it."""
    request = TurnRequest(
        identity=identity,
        conversation_id="",
        content=question.content,
        idempotency_key=key,
        fingerprint=digest,
    )
    if isinstance(found, BranchFrom):
        return replace(
            request,
            conversation_id=found.conversation_id,
            branch=found.point,
            store_question=found.store_question,
        )
    conversation_id, new = conversation_target(found)
    return replace(
        request,
        conversation_id=conversation_id,
        new_conversation=new,
        earlier=question.earlier[-MAX_EARLIER_TURNS:],
    )


async def paused_chat(
    db: Database, identity: Identity, bot: BotConfig, results: ToolResults, explicit_id: str | None
) -> tuple[ConversationRecord, MessageRecord]:
    """The conversation and the ``requires_action`` message that these tool outputs answer."""
    owner = identity.owner
    first_id = results.outputs[0].tool_call_id
    async with db.read() as conn:
        if explicit_id:
            conversation = await _owned(conn, owner, explicit_id, bot)
            history = await repo.list_messages(conn, conversation_id=conversation.id)
            paused = history[-1] if history and history[-1].status == "requires_action" else None
        else:
            paused = await find_paused_message(conn, owner=owner, tool_call_id=first_id)
            found = None
            if paused is not None:
                found = await repo.get_conversation(conn, owner=owner, conversation_id=paused.conversation_id)
            if found is None or paused is None:
                raise _bad(f"no paused chat asked for tool call {first_id!r}", code="no_paused_chat")
            conversation = found
            history = await repo.list_messages(conn, conversation_id=conversation.id)
    if paused is None or not paused.upstream_chat_id or history[-1].id != paused.id:
        raise _bad("this conversation has no chat waiting for tool outputs", code="no_paused_chat")
    if conversation.bot != bot.slug:
        raise _bad(
            f"these tool calls belong to model {conversation.bot!r}", code="model_mismatch", param="model"
        )
    check_outputs(paused, results, param="messages")
    return conversation, paused


def check_outputs(paused: MessageRecord, results: ToolResults, *, param: str) -> None:
    """The outputs answer exactly the tool calls the paused chat asked for (400 otherwise)."""
    asked = {str(call.get("id")) for call in paused.tool_calls or ()}
    given = {output.tool_call_id for output in results.outputs}
    if given != asked:
        raise _bad(
            f"the paused chat asked for tool calls {sorted(asked)}; the request answers {sorted(given)}",
            code="tool_calls_mismatch",
            param=param,
        )
