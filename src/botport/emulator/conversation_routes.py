"""``/v1/conversation(s)``, conversation messages and ``/v1/files``."""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botport.emulator.context import Emulator
from botport.emulator.envelope import NOT_FOUND, EmulatorError, JSONResponse, ok
from botport.emulator.ids import new_id, now
from botport.emulator.inputs import (
    bad,
    json_body,
    message_input,
    message_inputs,
    meta_data,
    optional_str,
    param,
)
from botport.emulator.paging import int_query
from botport.emulator.state import FileRecord, MessageRecord
from botport.images import NotAnImage, image_size


def page_messages(
    messages: list[MessageRecord], *, order: str, before_id: str, after_id: str, limit: int
) -> tuple[list[MessageRecord], bool]:
    """One page in listing order; ``after_id``/``before_id`` are positions in that order."""
    ordered = messages if order == "asc" else messages[::-1]
    ids = [m.id for m in ordered]
    cursor = after_id or before_id
    if cursor and cursor not in ids:
        raise bad(f"message {cursor!r} is not in this conversation")
    if after_id:
        start = ids.index(after_id) + 1
        return ordered[start : start + limit], start + limit < len(ordered)
    if before_id:
        end = ids.index(before_id)
        start = max(0, end - limit)
        return ordered[start:end], start > 0
    return ordered[:limit], limit < len(ordered)


class ConversationRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def routes(self) -> list[Route]:
        return [
            Route("/v1/conversation/create", self.create, methods=["POST"]),
            Route("/v1/conversation/retrieve", self.retrieve, methods=["GET"]),
            Route("/v1/conversations", self.list_conversations, methods=["GET"]),
            Route("/v1/conversations/{conversation_id}/clear", self.clear, methods=["POST"]),
            Route("/v1/conversation/message/list", self.list_messages, methods=["POST", "GET"]),
            Route("/v1/conversation/message/create", self.create_message, methods=["POST"]),
            Route("/v1/conversation/message/retrieve", self.retrieve_message, methods=["GET"]),
            Route("/v1/conversation/message/modify", self.modify_message, methods=["POST"]),
            Route("/v1/conversation/message/delete", self.delete_message, methods=["POST"]),
            Route("/v1/files/upload", self.upload, methods=["POST"]),
            Route("/v1/files/retrieve", self.retrieve_file, methods=["GET"]),
        ]

    async def create(self, request: Request) -> Response:
        em = self.emulator
        account = em.account(request)
        body = await json_body(request)
        bot_id = optional_str(body, "bot_id")
        if bot_id:
            em.bot(bot_id)
        inputs = message_inputs(body.get("messages"), "messages", em.store, account)
        conversation = em.store.create_conversation(
            account, bot_id=bot_id, meta_data=meta_data(body.get("meta_data"), "meta_data")
        )
        for item in inputs:
            conversation.messages.append(item.record(conversation.id, conversation.last_section_id))
        return ok(conversation.to_wire())

    async def retrieve(self, request: Request) -> Response:
        account = self.emulator.account(request)
        conversation = self.emulator.store.conversation(account, param(request, {}, "conversation_id"))
        return ok(conversation.to_wire())

    async def list_conversations(self, request: Request) -> Response:
        account = self.emulator.account(request)
        bot_id = request.query_params.get("bot_id", "")
        page_num = int_query(request, ["page_num"], 1, 1, 10_000)
        page_size = int_query(request, ["page_size"], 50, 1, 50)
        found = self.emulator.store.list_conversations(account, bot_id)
        start = (page_num - 1) * page_size
        page = found[start : start + page_size]
        return ok({"conversations": [c.to_wire() for c in page], "has_more": start + page_size < len(found)})

    async def clear(self, request: Request) -> Response:
        store = self.emulator.store
        account = self.emulator.account(request)
        conversation = store.conversation(account, request.path_params["conversation_id"])
        store.ensure_idle(conversation)
        conversation.last_section_id = new_id()
        return ok({"id": conversation.last_section_id, "conversation_id": conversation.id})

    async def list_messages(self, request: Request) -> Response:
        account = self.emulator.account(request)
        body = await json_body(request) if request.method == "POST" else {}
        conversation = self.emulator.store.conversation(account, param(request, body, "conversation_id"))
        order = body.get("order") or "desc"
        limit = body.get("limit") or 50
        if order not in ("asc", "desc"):
            raise bad("order must be 'asc' or 'desc'")
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            raise bad("limit must be an integer from 1 to 50")
        messages = conversation.messages
        chat_id = optional_str(body, "chat_id")
        if chat_id:
            messages = [m for m in messages if m.chat_id == chat_id]
        page, has_more = page_messages(
            messages,
            order=order,
            before_id=optional_str(body, "before_id"),
            after_id=optional_str(body, "after_id"),
            limit=limit,
        )
        return JSONResponse(
            {
                "code": 0,
                "msg": "",
                "data": [m.to_wire() for m in page],
                "first_id": page[0].id if page else "",
                "last_id": page[-1].id if page else "",
                "has_more": has_more,
            }
        )

    async def create_message(self, request: Request) -> Response:
        em = self.emulator
        account = em.account(request)
        body = await json_body(request)
        conversation = em.store.conversation(account, param(request, {}, "conversation_id"))
        item = message_input(body, "message", em.store, account)
        message = item.record(conversation.id, conversation.last_section_id)
        conversation.messages.append(message)
        return ok(message.to_wire())

    async def retrieve_message(self, request: Request) -> Response:
        return ok((await self._message(request)).to_wire())

    async def modify_message(self, request: Request) -> Response:
        message = await self._message(request)
        body = await json_body(request)
        content = optional_str(body, "content")
        content_type = optional_str(body, "content_type")
        if content:
            message.content = content
        if content_type:
            if content_type not in ("text", "object_string", "card"):
                raise bad("content_type must be text, object_string or card")
            message.content_type = content_type
        if body.get("meta_data") is not None:
            message.meta_data = meta_data(body["meta_data"], "meta_data")
        message.updated_at = now()
        # The SDK reads this answer's ``message`` field; ``data`` is there for readers of the docs.
        return ok(message.to_wire(), message=message.to_wire())

    async def delete_message(self, request: Request) -> Response:
        message = await self._message(request)
        conversation = self.emulator.store.conversations[message.conversation_id]
        conversation.messages.remove(message)
        self.emulator.store.feedback.pop(message.id, None)
        return ok(message.to_wire())

    async def _message(self, request: Request) -> MessageRecord:
        account = self.emulator.account(request)
        return self.emulator.store.message(
            account, param(request, {}, "conversation_id"), param(request, {}, "message_id")
        )

    async def upload(self, request: Request) -> Response:
        account = self.emulator.account(request)
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise bad("multipart field 'file' is required")
            data = await upload.read()
            size: tuple[int, int] | None
            try:
                size = image_size(data)
            except NotAnImage:
                size = None
            record = FileRecord(
                account=account,
                file_name=upload.filename or "upload",
                size=len(data),
                content_type=upload.content_type or "application/octet-stream",
                width=size[0] if size else None,
                height=size[1] if size else None,
            )
        self.emulator.store.files[record.id] = record
        return ok(record.to_wire())

    async def retrieve_file(self, request: Request) -> Response:
        account = self.emulator.account(request)
        file_id = param(request, {}, "file_id")
        record = self.emulator.store.files.get(file_id)
        if record is None or record.account != account:
            raise EmulatorError(NOT_FOUND, f"file {file_id!r} not found")
        return ok(record.to_wire())
