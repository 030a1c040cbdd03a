"""Replay every exported operation against a real server: build the request from the document (server,
path, method, example body, security), send it, and check the answer against the documented schema."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tool_helpers import TOKEN, bearer, check_against, emulated_bots, new_key, response_schema

from botport.app import create_app
from botport.bots import BotRegistry
from botport.demo import offered_bots
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID
from botport.schema import ASK_PATH, Target, coze_document, tool_document
from botport.settings import Settings

pytestmark = pytest.mark.live

FINAL = {"completed", "failed", "requires_action", "canceled"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items() for method, op in item.items()]


def _auth(document: dict[str, Any], operation: dict[str, Any], secret: str) -> dict[str, str]:
    """Headers the documented security asks for (every scheme here is HTTP bearer)."""
    headers = {}
    for requirement in operation["security"]:
        for name in requirement:
            scheme = document["components"]["securitySchemes"][name]
            assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
            headers.update(bearer(secret))
    return headers


async def _replay(
    client: httpx.AsyncClient,
    document: dict[str, Any],
    path: str,
    *,
    secret: str | None,
    body: Any = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    ((method, operation),) = document["paths"][path].items()
    if body is None and "requestBody" in operation:
        body = operation["requestBody"]["content"]["application/json"]["example"]
    headers = _auth(document, operation, secret) if secret else {}
    for parameter in operation.get("parameters", []):
        if parameter["required"]:
            assert params and parameter["name"] in params, parameter["name"]
    url = document["servers"][0]["url"] + path
    response = await client.request(method.upper(), url, json=body, params=params, headers=headers)
    assert str(response.status_code) in operation["responses"], f"undocumented status {response.status_code}"
    check_against(document, response.json(), response_schema(document, path, method, response.status_code))
    return response


async def test_the_tool_documents_replay_against_botport_in_demo_mode(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    settings = Settings(data_dir=tmp_path)
    server = live_server(create_app(settings))
    key = await new_key(settings.resolved_database_url)
    async with httpx.AsyncClient(timeout=30) as client:
        for target in Target:
            # The document as botport serves it (its own URL, its bots), equal to the exported one.
            served = await client.get(f"{server.url}/api/tool/openapi.json", params={"target": target.value})
            document = served.json()
            assert document["servers"][0]["url"] == server.url
            assert document == tool_document(
                server.url, target, bots=list(BotRegistry(offered_bots(settings)))
            )
            assert [(p, m) for p, m, _ in _operations(document)] == [(ASK_PATH, "post")]

            answer = await _replay(client, document, ASK_PATH, secret=key)
            assert answer.status_code == 200
            assert answer.json()["answer"].startswith("**Turn 1.**")

            follow_up = {"question": "and then?", "conversation_id": answer.json()["conversation_id"]}
            again = await _replay(client, document, ASK_PATH, secret=key, body=follow_up)
            assert again.status_code == 200 and again.json()["answer"].startswith("**Turn 2.**")

            # Errors match the documented error schema too.
            assert (await _replay(client, document, ASK_PATH, secret=None)).status_code == 401
            unknown = {"question": "hi", "conversation_id": "nope"}
            assert (await _replay(client, document, ASK_PATH, secret=key, body=unknown)).status_code == 404
            empty = {"question": ""}
            assert (await _replay(client, document, ASK_PATH, secret=key, body=empty)).status_code == 422
            failing = {"question": "hi", "bot": "failing"}
            assert (await _replay(client, document, ASK_PATH, secret=key, body=failing)).status_code == 502


@pytest.mark.parametrize("target", list(Target))
async def test_the_corrected_coze_document_replays_against_the_emulator(
    target: Target, live_server: Callable[..., Any]
) -> None:
    server = live_server(create_emulator_app(tokens=[TOKEN], bots=emulated_bots()))
    document = coze_document(server.url, target, bot_id=DEMO_BOT_ID)
    assert [(p, m) for p, m, _ in _operations(document)] == [
        ("/v3/chat", "post"),
        ("/v3/chat/retrieve", "get"),
        ("/v3/chat/message/list", "get"),
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        conversation_id = None
        for turn in (1, 2):
            params = {"conversation_id": conversation_id} if conversation_id else None
            started = await _replay(client, document, "/v3/chat", secret=TOKEN, params=params)
            chat = started.json()["data"]
            assert started.json()["code"] == 0 and chat["status"] in ("created", "in_progress")
            ids = {"conversation_id": chat["conversation_id"], "chat_id": chat["id"]}
            for _ in range(30):  # once a second, as Coze asks (the emulator refuses faster polling)
                retrieved = await _replay(client, document, "/v3/chat/retrieve", secret=TOKEN, params=ids)
                if retrieved.json()["data"]["status"] in FINAL:
                    break
                await asyncio.sleep(1)
            assert retrieved.json()["data"]["status"] == "completed"
            listed = await _replay(client, document, "/v3/chat/message/list", secret=TOKEN, params=ids)
            messages = listed.json()["data"]
            (answer,) = [m for m in messages if m["type"] == "answer"]
            assert answer["content"].startswith(f"**Turn {turn}.**")
            assert any(m["type"] == "follow_up" for m in messages)
            conversation_id = chat["conversation_id"]
