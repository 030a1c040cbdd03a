"""Shared pieces of the tool tests: botport on a zero-delay emulator (token mode), API keys, and a
check of a JSON body against a schema taken from an OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from openapi_schema_validator import OAS30Validator, OAS31Validator
from pydantic import SecretStr

from api_keys import new_key
from botport.app import create_app
from botport.asgi_transport import StreamingASGITransport
from botport.emulator.app import create_emulator_app
from botport.emulator.bots import DEMO_BOT_ID, FAILING_BOT_ID, SLOW_BOT_ID, TOOL_BOT_ID, EmulatedBot
from botport.emulator.faults import Faults
from botport.emulator.scripts import demo_script, failing_script, weather_script
from botport.settings import BotConfig, Settings

TOKEN = "pat_TOOLTESTSECRET_do_not_leak_0123456789"
BASE = "http://gateway.test"
PUBLIC_URL = "https://botport.example.com"

# slug -> (Coze bot id, script). No delays: "/slow ..." questions bring their own pace (0.3 s a word).
BOTS = {
    "demo": (DEMO_BOT_ID, demo_script),
    "weather": (TOOL_BOT_ID, weather_script),
    "slow": (SLOW_BOT_ID, demo_script),
    "failing": (FAILING_BOT_ID, failing_script),
}


def emulated_bots() -> list[EmulatedBot]:
    return [
        EmulatedBot(
            id=bot_id, name=slug, description=f"{slug} bot", greeting="", script=script, faults=Faults()
        )
        for slug, (bot_id, script) in BOTS.items()
    ]


def token_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "coze_token": SecretStr(TOKEN),
        "coze_base_url": "http://coze.test",
        "bots": [BotConfig(slug=slug, bot_id=bot_id) for slug, (bot_id, _) in BOTS.items()],
        "data_dir": data_dir,
        "secret_key": SecretStr("a-test-secret-key-for-cookies"),
        **overrides,
    }
    return Settings(**values)


def emulator_transport() -> StreamingASGITransport:
    return StreamingASGITransport(create_emulator_app(tokens=[TOKEN], bots=emulated_bots()))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class ToolGateway:
    app: FastAPI
    client: httpx.AsyncClient
    key: str

    async def ask(self, key: str | None = None, **body: Any) -> httpx.Response:
        headers = bearer(key or self.key)
        return await self.client.post("/api/tool/ask", json=body, headers=headers)


@asynccontextmanager
async def tool_gateway(settings: Settings, *, demo: bool = False) -> AsyncIterator[ToolGateway]:
    """botport started in-process; token mode on the zero-delay emulator unless ``demo``."""
    app = create_app(settings, upstream_transport=None if demo else emulator_transport())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=BASE, timeout=30)
    async with app.router.lifespan_context(app), client:
        key = await new_key(settings.resolved_database_url)
        yield ToolGateway(app, client, key)


def check_against(document: dict[str, Any], instance: Any, schema: dict[str, Any]) -> None:
    """Raise if ``instance`` does not match ``schema`` (an inline schema of ``document``)."""
    validator = OAS31Validator if document["openapi"].startswith("3.1") else OAS30Validator
    validator(schema).validate(instance)


def response_schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    response = document["paths"][path][method]["responses"][str(status)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema
