"""``POST /mcp`` in botport's OpenAPI document (``/docs``): the SDK serves it, not a FastAPI route, so
it is described by hand — as far as HTTP goes; what travels inside is MCP's JSON-RPC (docs/mcp.md)."""

from __future__ import annotations

from typing import Any

from botport.api.responses import DESCRIPTIONS

_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
_JSONRPC_ERROR = {
    "application/json": {
        "schema": {
            "type": "object",
            "description": "A JSON-RPC error: {jsonrpc, id, error: {code, message, data?}}",
        }
    }
}

_MESSAGE = {
    "type": "object",
    "description": "One JSON-RPC 2.0 request or notification of the Model Context Protocol.",
    "properties": {
        "jsonrpc": {"type": "string", "enum": ["2.0"]},
        "id": {"description": "A request's id (a notification has none).", "type": ["string", "integer"]},
        "method": {"type": "string", "examples": ["tools/list", "tools/call", "resources/read"]},
        "params": {"type": "object"},
    },
    "required": ["jsonrpc", "method"],
    "examples": [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "ask_demo", "arguments": {"question": "What can you do?"}},
        }
    ],
}

PATH_ITEM: dict[str, Any] = {
    "post": {
        "tags": ["mcp"],
        "summary": "Model Context Protocol server (Streamable HTTP, stateless)",
        "description": (
            "Each bot is a tool, `ask_<slug>`; the caller's conversations are resources "
            "(`botport://conversations/{id}`, Markdown). Send `Authorization: Bearer bp_...` and "
            "`Accept: application/json, text/event-stream` (and `MCP-Protocol-Version` after the handshake). "
            "Use an MCP client rather than this page: see docs/mcp.md. A tool call's progress and result "
            "come as an event stream."
        ),
        "operationId": "mcp",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _MESSAGE}}},
        "responses": {
            "200": {
                "description": "The JSON-RPC response: JSON, or an event stream (progress, then the result)",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/event-stream": {
                        "schema": {"type": "object", "description": "Each event's data: a JSON-RPC message."}
                    },
                },
            },
            "202": {"description": "A notification, accepted"},
            "400": {"description": "Not one JSON-RPC request or notification", "content": _ERROR_BODY},
            "401": {"description": DESCRIPTIONS[401], "content": _ERROR_BODY},
            "404": {
                "description": "An unknown method, on the 2026-07-28 protocol (a JSON-RPC error)",
                "content": _JSONRPC_ERROR,
            },
            "406": {
                "description": "Accept must name application/json and text/event-stream",
                "content": _ERROR_BODY,
            },
            "408": {"description": DESCRIPTIONS[408], "content": _ERROR_BODY},
            "413": {"description": DESCRIPTIONS[413], "content": _ERROR_BODY},
            "415": {"description": "Content-Type must be application/json", "content": _ERROR_BODY},
            "429": {"description": DESCRIPTIONS[429], "content": _ERROR_BODY},
        },
    }
}
