"""/mcp takes botport's API keys, and each key's conversations are its own: no key or a bad one is a
401 that says what to send; the caller's conversations are resources, read as Markdown, and another
key's are not found."""

from __future__ import annotations

import httpx
import pytest
from mcp.shared.exceptions import MCPError
from mcp_helpers import McpServer, connect

pytestmark = pytest.mark.live

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
ACCEPT = {"Accept": "application/json, text/event-stream"}
OBJECT_AS_ID = b'{"jsonrpc": "2.0", "id": {}, "method": "tools/list"}'


@pytest.mark.parametrize(
    ("authorization", "code", "challenge"),
    [
        (None, "missing_api_key", 'Bearer realm="botport"'),
        ("Bearer bp_not_a_key", "invalid_api_key", 'Bearer realm="botport", error="invalid_token"'),
        ("Basic dXNlcjpwYXNz", "invalid_api_key", 'Bearer realm="botport", error="invalid_token"'),
    ],
)
async def test_no_key_or_a_bad_key_is_401_with_a_bearer_challenge(
    mcp_server: McpServer, authorization: str | None, code: str, challenge: str
) -> None:
    headers = {**ACCEPT, **({"Authorization": authorization} if authorization else {})}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(mcp_server.endpoint, json=INITIALIZE, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    error = response.json()["error"]
    assert error["code"] == code
    assert "Bearer" in error["message"] or "unknown or revoked" in error["message"]


async def test_the_sdk_client_with_a_wrong_key_is_refused(mcp_server: McpServer) -> None:
    statuses: list[int] = []
    with pytest.raises(ExceptionGroup) as refused:  # the SDK reports it as a failed first request
        async with connect(mcp_server, key="bp_wrong", statuses=statuses):
            pass
    assert refused.group_contains(MCPError)
    assert statuses and set(statuses) == {401}  # the probe for the protocol, then the handshake


async def test_conversations_are_markdown_resources_of_their_key_only(mcp_server: McpServer) -> None:
    async with connect(mcp_server) as client:
        asked = await client.call_tool("ask_demo", {"question": "What is botport?"})
        assert asked.structured_content is not None
        conversation_id = asked.structured_content["conversation_id"]
        uri = f"botport://conversations/{conversation_id}"

        listed = (await client.list_resources()).resources
        assert [str(r.uri) for r in listed] == [uri]
        assert (listed[0].name, listed[0].mime_type) == ("What is botport?", "text/markdown")
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["botport://conversations/{conversation_id}"]

        (content,) = (await client.read_resource(uri)).contents
        assert content.mime_type == "text/markdown"
        text = content.text  # type: ignore[union-attr]
        assert text.startswith("# What is botport?\n")
        assert "- Bot: Demo" in text
        assert "### You · " in text and "\nWhat is botport?\n" in text
        assert asked.structured_content["answer"] in text

    other = await mcp_server.other_key()
    async with connect(mcp_server, key=other) as stranger:
        assert (await stranger.list_resources()).resources == []
        with pytest.raises(MCPError) as refused:
            await stranger.read_resource(uri)
        assert refused.value.code == -32602
        assert refused.value.message == f"no conversation {conversation_id!r} for this caller"
        # Nor can it continue the conversation.
        follow_up = await stranger.call_tool(
            "ask_demo", {"question": "hi", "conversation_id": conversation_id}
        )
        assert follow_up.is_error
        assert "There is no conversation" in follow_up.content[0].text  # type: ignore[union-attr]
        with pytest.raises(MCPError, match="unknown resource"):
            await stranger.read_resource("botport://elsewhere/1")


@pytest.mark.parametrize(
    ("content_type", "accept", "body", "status", "code"),
    [
        ("text/plain", ACCEPT["Accept"], b"{}", 415, "unsupported_media_type"),
        ("application/json", "application/json", b"{}", 406, "not_acceptable"),
        ("application/json", ACCEPT["Accept"], b"not json", 400, "invalid_jsonrpc"),
        ("application/json", ACCEPT["Accept"], b"[]", 400, "invalid_jsonrpc"),
        (
            "application/json",
            ACCEPT["Accept"],
            b'{"jsonrpc": "2.0", "id": {}, "method": "x"}',
            400,
            "invalid_jsonrpc",
        ),
    ],
)
async def test_what_is_not_an_mcp_message_gets_a_clear_4xx(
    mcp_server: McpServer, content_type: str, accept: str, body: bytes, status: int, code: str
) -> None:
    headers = {"Authorization": f"Bearer {mcp_server.key}", "Content-Type": content_type, "Accept": accept}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(mcp_server.endpoint, content=body, headers=headers)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
