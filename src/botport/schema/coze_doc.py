"""A corrected OpenAPI document of Coze's own chat API, replacing the tutorial's schema, for those who
call Coze directly (the caller then holds the Coze token; botport's tool endpoint avoids that).

What the tutorial got wrong and this fixes: the answer is read with the message list (the tutorial had
no such operation); the create-chat response is a Chat inside ``{code, msg, data}``, not a message
list; retrieve and message list are GET; auth is HTTP Bearer. A caller must poll retrieve (at most
once a second) until the status is final, then pick the message whose ``type`` is ``answer``.
"""

from __future__ import annotations

from typing import Any

from botport.schema.targets import Target, both, within_limit

EXAMPLE_BOT_ID = "7000000000000000001"
SECURITY_SCHEME = "cozeToken"
CHAT_STATUSES = ["created", "in_progress", "completed", "failed", "requires_action", "canceled"]


def _integer(description: str) -> dict[str, Any]:
    return {"type": "integer", "description": description}


def _string(description: str, **more: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **more}


def _chat_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": both("一次对话（Chat）", "A Chat: one turn of the conversation"),
        "required": ["id", "conversation_id", "status"],
        "properties": {
            "id": _string(both("对话 ID（chat_id）", "The chat id (chat_id)")),
            "conversation_id": _string(both("会话 ID", "The conversation id")),
            "bot_id": _string(both("智能体 ID", "The bot id")),
            "section_id": _string(both("上下文段 ID", "The context section id")),
            "created_at": _integer(both("创建时间（Unix 秒）", "Created at (Unix seconds)")),
            "completed_at": _integer(both("完成时间（Unix 秒）", "Completed at (Unix seconds)")),
            "failed_at": _integer(both("失败时间（Unix 秒）", "Failed at (Unix seconds)")),
            "status": _string(
                both(
                    "状态；completed、failed、requires_action、canceled 表示结束",
                    "Status; completed, failed, requires_action and canceled are final",
                ),
                enum=CHAT_STATUSES,
            ),
            "last_error": {
                "type": "object",
                "description": both("失败原因（code 为 0 表示无错误）", "Why it failed (code 0: no error)"),
                "properties": {"code": _integer("code"), "msg": _string("msg")},
            },
            "usage": {
                "type": "object",
                "description": both("Token 用量", "Token usage"),
                "properties": {
                    "token_count": _integer(both("总数", "Total")),
                    "output_count": _integer(both("输出", "Output")),
                    "input_count": _integer(both("输入", "Input")),
                },
            },
            "required_action": {
                "type": "object",
                "description": both(
                    "status 为 requires_action 时：需要提交的工具调用",
                    "With status requires_action: the tool calls to answer",
                ),
                "properties": {
                    "type": _string("submit_tool_outputs"),
                    "submit_tool_outputs": {
                        "type": "object",
                        "properties": {
                            "tool_calls": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "id": _string("tool_call_id"),
                                        "type": _string("function"),
                                        "function": {
                                            "type": "object",
                                            "properties": {
                                                "name": _string("name"),
                                                "arguments": _string(
                                                    both("JSON 字符串参数", "Arguments as a JSON string")
                                                ),
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                },
            },
            "meta_data": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }


def _message_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": both("一条消息", "A message"),
        "required": ["id", "role", "type", "content"],
        "properties": {
            "id": _string(both("消息 ID", "The message id")),
            "conversation_id": _string(both("会话 ID", "The conversation id")),
            "bot_id": _string(both("智能体 ID", "The bot id")),
            "chat_id": _string(both("对话 ID", "The chat id")),
            "section_id": _string(both("上下文段 ID", "The context section id")),
            "role": _string(both("角色", "Role"), enum=["user", "assistant"]),
            "type": _string(
                both(
                    "类型；回答是 type 为 answer 的消息（不要取第一条）",
                    "Type; the answer is the message of type answer (never take the first one)",
                ),
                example="answer",
            ),
            "content": _string(both("内容", "Content")),
            "content_type": _string(both("内容格式", "Content format"), example="text"),
            "reasoning_content": _string(both("模型的思考过程", "The model's reasoning")),
            "meta_data": {"type": "object", "additionalProperties": {"type": "string"}},
            "created_at": _integer(both("创建时间（Unix 秒）", "Created at (Unix seconds)")),
            "updated_at": _integer(both("更新时间（Unix 秒）", "Updated at (Unix seconds)")),
        },
    }


def _envelope(data: dict[str, Any], description: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": _integer(both("0 表示成功，大于 0 为错误", "0: success; above 0: an error")),
            "msg": _string(both("错误说明", "Why, when code is not 0")),
            "data": data,
        },
    }
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _enter_message_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["role", "content", "content_type"],
        "properties": {
            "role": _string(both("角色", "Role"), enum=["user", "assistant"]),
            "type": _string(both("用户消息为 question", "question for the user's"), example="question"),
            "content": _string(both("消息内容", "The message")),
            "content_type": _string(both("内容格式", "Content format"), enum=["text", "object_string"]),
        },
    }


def _query(name: str, description: str, *, required: bool) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


_CONVERSATION_ID = both("会话 ID", "The conversation id")
_CHAT_ID = both("对话 ID（发起对话返回的 data.id）", "The chat id (data.id of createChat)")


def _create_chat(bot_id: str | None) -> dict[str, Any]:
    bot: dict[str, Any] = _string(both("智能体 ID", "The bot id"), example=bot_id or EXAMPLE_BOT_ID)
    if bot_id:
        # Only this bot: the agent's model must not make one up.
        bot["enum"] = [bot_id]
        bot["default"] = bot_id
    return {
        "operationId": "createChat",
        "summary": both("发起对话", "Start a chat"),
        "description": both(
            "返回 Chat（非回答）。之后每秒至多一次调用 retrieveChat 直到结束，再调用 listChatMessages。",
            "Returns the Chat, not the answer. Then call retrieveChat at most once a second until it "
            "ends, then listChatMessages.",
        ),
        "security": [{SECURITY_SCHEME: []}],
        "parameters": [
            _query(
                "conversation_id",
                both("续聊时填入上次的会话 ID；不填则新建会话", "To continue, the last conversation_id"),
                required=False,
            )
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["bot_id", "user_id", "additional_messages", "stream"],
                        "properties": {
                            "bot_id": bot,
                            "user_id": _string(
                                both("调用方自己的用户标识", "The caller's own stable user id")
                            ),
                            "additional_messages": {
                                "type": "array",
                                "maxItems": 100,
                                "description": both("最后一条是用户的问题", "The last is the question"),
                                "items": _enter_message_schema(),
                            },
                            "stream": {
                                "type": "boolean",
                                "enum": [False],
                                "description": both("必须为 false", "Must be false for this schema"),
                            },
                            "auto_save_history": {
                                "type": "boolean",
                                "default": True,
                                "description": both(
                                    "必须为 true，否则无法读取回答",
                                    "Must be true, or the answer cannot be read",
                                ),
                            },
                            "custom_variables": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                                "description": both("提示词变量", "Prompt variables"),
                            },
                        },
                    },
                    "example": {
                        "bot_id": bot_id or EXAMPLE_BOT_ID,
                        "user_id": "user_001",
                        "stream": False,
                        "auto_save_history": True,
                        "additional_messages": [
                            {"role": "user", "type": "question", "content": "你好", "content_type": "text"}
                        ],
                    },
                }
            },
        },
        "responses": {"200": _envelope(_chat_schema(), both("对话已创建", "The chat, just started"))},
    }


def _retrieve_chat() -> dict[str, Any]:
    return {
        "operationId": "retrieveChat",
        "summary": both("查看对话状态", "Get the chat's status"),
        "description": both(
            "每秒至多一次；status 为 completed 后调用 listChatMessages。",
            "At most once a second; when status is completed, call listChatMessages.",
        ),
        "security": [{SECURITY_SCHEME: []}],
        "parameters": [
            _query("conversation_id", _CONVERSATION_ID, required=True),
            _query("chat_id", _CHAT_ID, required=True),
        ],
        "responses": {"200": _envelope(_chat_schema(), both("对话", "The Chat"))},
    }


def _list_messages() -> dict[str, Any]:
    return {
        "operationId": "listChatMessages",
        "summary": both("读取对话的消息", "Read the chat's messages"),
        "description": both(
            "回答是 type 为 answer 的消息；follow_up 是建议的后续问题。",
            "The answer is the message of type answer; follow_up ones are suggested questions.",
        ),
        "security": [{SECURITY_SCHEME: []}],
        "parameters": [
            _query("conversation_id", _CONVERSATION_ID, required=True),
            _query("chat_id", _CHAT_ID, required=True),
        ],
        "responses": {
            "200": _envelope(
                {"type": "array", "items": _message_schema()},
                both("消息列表", "The messages of the chat"),
            )
        },
    }


def coze_document(
    base_url: str = "https://api.coze.cn", target: Target = Target.qingyan, *, bot_id: str | None = None
) -> dict[str, Any]:
    """Coze's chat API at ``base_url``. With ``bot_id``, the document allows only that bot."""
    document = {
        "openapi": target.openapi_version,
        "info": {
            "title": "Coze Chat API (v3)",
            "description": both(
                "直接调用 Coze：发起对话、轮询状态、读取回答。需要 Coze 访问令牌。",
                "Call Coze directly: start a chat, poll its status, read the answer. Needs a Coze token.",
            ),
            "version": "3",
        },
        "servers": [{"url": base_url.rstrip("/"), "description": "Coze"}],
        "paths": {
            "/v3/chat": {"post": _create_chat(bot_id)},
            "/v3/chat/retrieve": {"get": _retrieve_chat()},
            "/v3/chat/message/list": {"get": _list_messages()},
        },
        "components": {
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": both("Coze 访问令牌（pat_...）", "A Coze access token (pat_...)"),
                }
            }
        },
    }
    return dict(within_limit(document, target.text_limit))
