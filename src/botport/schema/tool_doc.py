"""The OpenAPI document of ``POST /api/tool/ask``, for an agent platform's API tool.

Written by hand rather than taken from FastAPI's schema: the agent's model reads these descriptions to
decide when and how to call the tool, so they are short, bilingual and say how to keep context.
Everything is inline (no ``$ref`` but the security scheme): some importers do not resolve references.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botport.schema.targets import Target, both, shorten, within_limit
from botport.settings import BotConfig

ASK_PATH = "/api/tool/ask"
ASK_OPERATION_ID = "askBot"
SECURITY_SCHEME = "botportApiKey"

EXAMPLE_QUESTION = "What can you help me with? / 你能帮我做什么？"
EXAMPLE_CONVERSATION_ID = "3f2a9c1e7b5d4e8f9a0b1c2d3e4f5a6b"
EXAMPLE_ANSWER = {
    "answer": "I can answer questions about our products. / 我可以回答关于我们产品的问题。",
    "conversation_id": EXAMPLE_CONVERSATION_ID,
    "follow_ups": ["Which products do you have? / 你们有哪些产品？"],
}

_SUMMARY = both("向 Coze 智能体提问", "Ask the Coze bot")
_DESCRIPTION = both(
    "提问并一次得到完整回答。续问时传回上次的 conversation_id 以保留上下文。",
    "Ask a question, get the whole answer in one call. "
    "Pass back the previous conversation_id to keep the context.",
)

# What each error status means, for the agent that reads the response.
_ERRORS: dict[str, str] = {
    "400": both("请求有误", "The request is wrong (e.g. the bot does not match the conversation)"),
    "401": both("缺少或无效的 API 密钥", "The API key is missing, unknown or revoked"),
    "404": both("没有这个会话或智能体", "No such conversation (or bot) for this API key"),
    "409": both("该会话中上一个回答仍在生成", "An answer is still being written in this conversation"),
    "413": both("问题太长", "The question is too long"),
    "422": both("问题为空或参数无效", "The question is empty or a field is invalid"),
    "502": both("智能体回答失败", "The bot failed to answer; the message says why"),
    "504": both("智能体未能按时回答", "The bot did not answer in time; ask again, maybe more simply"),
}


def _error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": both("错误", "An error; relay its message to the user"),
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "description": both("错误代码", "Machine-readable code"),
                        "example": "tool_timeout",
                    },
                    "message": {
                        "type": "string",
                        "description": both("错误说明", "What went wrong and what to do"),
                    },
                    "conversation_id": {
                        "type": "string",
                        "description": both("相关会话", "The conversation concerned, when there is one"),
                    },
                    "logid": {
                        "type": "string",
                        "description": both("Coze 请求 ID", "Coze's request id, for support"),
                    },
                },
            }
        },
    }


def _listing(bots: Sequence[BotConfig], room: int) -> str:
    """``slug: description; ...`` in at most ``room`` characters, naming every bot: when they do not
    all fit, the longest descriptions are shortened first (the short ones are kept whole)."""
    # Each description's own full stop would stand before the separator ("word.; next").
    texts = [(b.description or b.name).rstrip(" .。") for b in bots]
    budget = room - sum(len(b.slug) + len(": ") for b in bots) - len("; ") * (len(bots) - 1)
    if budget < 12 * len(bots):
        return "; ".join(b.slug for b in bots)  # too many bots to describe: the names alone
    for rank, index in enumerate(sorted(range(len(texts)), key=lambda i: len(texts[i]))):
        share = budget // (len(texts) - rank)
        texts[index] = shorten(texts[index], share)
        budget -= len(texts[index])
    return "; ".join(f"{b.slug}: {text}" for b, text in zip(bots, texts, strict=True))


def _bot_property(bots: Sequence[BotConfig], limit: int) -> dict[str, Any]:
    prop: dict[str, Any] = {
        "type": "string",
        "description": both(
            "要提问的智能体（仅在新会话时使用，默认第一个）",
            "Which bot to ask (for a new conversation; default: the first)",
        ),
    }
    if bots:
        prop["description"] += ". "
        prop["description"] += _listing(bots, limit - len(prop["description"]))
        prop["enum"] = [b.slug for b in bots]
    return prop


def _request_schema(bots: Sequence[BotConfig], limit: int) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["question"],
        "properties": {
            "question": {
                "type": "string",
                "minLength": 1,
                "description": both("用户的问题", "The user's question, in full"),
            },
            "conversation_id": {
                "type": "string",
                "description": both(
                    "首次提问时不填；续问时填上次回答中的 conversation_id",
                    "Leave out for a new conversation; to follow up, the conversation_id of the last answer",
                ),
            },
            "bot": _bot_property(bots, limit),
        },
    }


def _answer_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["answer", "conversation_id", "follow_ups"],
        "properties": {
            "answer": {
                "type": "string",
                "description": both("智能体的完整回答（Markdown）", "The bot's whole answer (markdown)"),
            },
            "conversation_id": {
                "type": "string",
                "description": both("会话 ID，续问时传回", "The conversation id; send it back to follow up"),
            },
            "follow_ups": {
                "type": "array",
                "items": {"type": "string"},
                "description": both("建议的后续问题", "Suggested next questions"),
            },
        },
    }


def _json(schema: dict[str, Any], example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def tool_document(
    public_url: str, target: Target = Target.qingyan, *, bots: Sequence[BotConfig] = ()
) -> dict[str, Any]:
    """The document for ``target``, pointing at botport at ``public_url``. With ``bots``, the
    ``bot`` field lists them (leave it out when the document is not for one known server). Every
    description is held to what the target takes: a long bot description is shortened."""
    operation: dict[str, Any] = {
        "operationId": ASK_OPERATION_ID,
        "summary": _SUMMARY,
        "description": _DESCRIPTION,
        "security": [{SECURITY_SCHEME: []}],
        "requestBody": {
            "required": True,
            "content": _json(_request_schema(bots, target.text_limit), {"question": EXAMPLE_QUESTION}),
        },
        "responses": {
            "200": {
                "description": both("完整回答", "The whole answer"),
                "content": _json(_answer_schema(), EXAMPLE_ANSWER),
            },
            **{
                status: {"description": text, "content": _json(_error_schema())}
                for status, text in _ERRORS.items()
            },
        },
    }
    if target is Target.gpts:
        operation["x-openai-isConsequential"] = False  # only asks a question: allow "Always allow"
    document = {
        "openapi": target.openapi_version,
        "info": {
            "title": "botport",
            "description": both(
                "通过 botport 网关调用 Coze 智能体：一次请求得到完整回答。",
                "Call a Coze bot through the botport gateway: one request, the whole answer.",
            ),
            "version": "1.0.0",
        },
        "servers": [{"url": public_url.rstrip("/"), "description": "botport"}],
        "paths": {ASK_PATH: {"post": operation}},
        "components": {
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": both(
                        "botport API 密钥（botport keys create 生成）",
                        "A botport API key from 'botport keys create'",
                    ),
                }
            }
        },
    }
    return dict(within_limit(document, target.text_limit))
