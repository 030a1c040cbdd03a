"""An async client of botport's own API (REST + SSE, see docs/api.md). It never sees a Coze token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from botport.errors import with_logid
from botport.sse import aiter_sse


class ApiError(Exception):
    """An error answer of botport (``{"error": {...}}``) or a failure to reach it."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", logid: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.logid = logid

    def describe(self) -> str:
        """One line for a person: what went wrong, and the log id to report it with."""
        text = f"{self.message} [{self.code}]" if self.code else self.message
        return with_logid(text, self.logid)


@dataclass(frozen=True, slots=True)
class StreamFrame:
    """One event of the message stream: ``turn.started``, ``text.delta``, ``error``, ..."""

    event: str
    data: dict[str, Any]


class BotportClient:
    """Calls on one ``httpx.AsyncClient`` whose base URL and credentials are already set."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def config(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", "/api/config")
        return result

    async def bots(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._json("GET", "/api/bots")
        return result

    async def create_conversation(self, bot: str | None, title: str = "") -> dict[str, Any]:
        body: dict[str, Any] = {"title": title}
        if bot:
            body["bot"] = bot
        result: dict[str, Any] = await self._json("POST", "/api/conversations", json=body)
        return result

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", f"/api/conversations/{conversation_id}")
        return result

    async def conversations(self, limit: int = 20) -> list[dict[str, Any]]:
        page = await self._json("GET", "/api/conversations", params={"limit": limit})
        items: list[dict[str, Any]] = page["items"]
        return items

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        page = await self._json("GET", f"/api/conversations/{conversation_id}/messages")
        items: list[dict[str, Any]] = page["items"]
        return items

    async def cancel(self, conversation_id: str) -> bool:
        result = await self._json("POST", f"/api/conversations/{conversation_id}/cancel")
        return bool(result.get("cancelled"))

    async def stream_turn(self, conversation_id: str, content: str) -> AsyncIterator[StreamFrame]:
        """Send a question and yield the answer's frames as they arrive. The response is closed when
        the consumer stops early, also on cancellation."""
        url = f"/api/conversations/{conversation_id}/messages"
        # A terminal never comes back for an answer it stopped reading: closing the stream stops the turn.
        body = {"content": content, "stream": True, "cancel_on_disconnect": True}
        request = self.http.build_request("POST", url, json=body)
        response = await self._send(request, stream=True)
        try:
            if response.status_code >= 400:
                await response.aread()
                raise _error_of(response)
            try:
                async for event in aiter_sse(response.aiter_bytes()):
                    yield StreamFrame(event.event, _frame_data(event.data))
            except httpx.HTTPError as exc:
                raise ApiError(f"the stream was cut: {type(exc).__name__}: {exc}") from exc
        finally:
            await response.aclose()

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            return await self.http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise ApiError(
                f"cannot reach botport at {self.http.base_url}: {exc or type(exc).__name__}"
            ) from exc

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._send(self.http.build_request(method, path, **kwargs))
        if response.status_code >= 400:
            raise _error_of(response)
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise ApiError(f"{method} {path}: the answer is not JSON", status=response.status_code) from exc


def _frame_data(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return {"raw": raw}
    return data if isinstance(data, dict) else {"value": data}


def _error_of(response: httpx.Response) -> ApiError:
    try:
        error = response.json().get("error")
    except (json.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict):
        return ApiError(
            str(error.get("message") or f"HTTP {response.status_code}"),
            status=response.status_code,
            code=str(error.get("code") or ""),
            logid=error.get("logid") or None,
        )
    hint = " (is this a botport server?)" if response.status_code == 404 else ""
    return ApiError(
        f"HTTP {response.status_code} from {response.request.url.path}{hint}", status=response.status_code
    )
