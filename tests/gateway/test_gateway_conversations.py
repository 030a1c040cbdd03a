"""Conversations: create, list with paging, get, rename, delete; only the owner sees them."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from gateway_helpers import Gateway, gateway, recording, token_settings
from sqlalchemy import func, select

from botport.store.keys import create_api_key
from botport.store.tables import messages


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


async def test_create_with_default_and_given_bot(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        default = await gw.client.post("/api/conversations", json={})
        assert default.status_code == 201
        body = default.json()
        assert set(body) == {"id", "bot", "title", "created_at", "updated_at", "pinned"}
        assert body["bot"] == "demo" and body["title"] == ""
        assert body["created_at"].endswith(("Z", "+00:00"))

        given = await gw.client.post("/api/conversations", json={"bot": "weather", "title": "Rain"})
        assert given.status_code == 201
        assert (given.json()["bot"], given.json()["title"]) == ("weather", "Rain")

        unknown = await gw.client.post("/api/conversations", json={"bot": "nope"})
        error = _error(unknown, 404)
        assert "nope" in str(error["message"])
        listed = (await gw.client.get("/api/conversations")).json()["items"]
        assert len(listed) == 2


async def test_list_is_newest_first_and_pages(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        created = []
        for n in range(5):
            response = await gw.client.post("/api/conversations", json={"title": f"c{n}"})
            created.append(response.json()["id"])
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, str | int] = {"limit": 2}
            if cursor:
                params["before"] = cursor
            page = (await gw.client.get("/api/conversations", params=params)).json()
            pages += 1
            assert len(page["items"]) <= 2
            seen += [c["id"] for c in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3
        assert seen == list(reversed(created))

        # A conversation with a new turn moves to the top.
        await gw.send(created[0], "bump")
        first = (await gw.client.get("/api/conversations", params={"limit": 1})).json()
        assert first["items"][0]["id"] == created[0]

        _error(await gw.client.get("/api/conversations", params={"before": "not-a-cursor"}), 400)
        _error(await gw.client.get("/api/conversations", params={"limit": 0}), 422)


async def test_get_rename_delete(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "hello")
        got = await gw.client.get(f"/api/conversations/{cid}")
        assert got.status_code == 200 and got.json()["id"] == cid

        renamed = await gw.client.patch(f"/api/conversations/{cid}", json={"title": "  New name "})
        assert renamed.status_code == 200
        assert renamed.json()["title"] == "New name"
        assert (await gw.client.get(f"/api/conversations/{cid}")).json()["title"] == "New name"
        _error(await gw.client.patch(f"/api/conversations/{cid}", json={"title": ""}), 422)
        _error(await gw.client.patch(f"/api/conversations/{cid}", json={}), 422)

        deleted = await gw.client.delete(f"/api/conversations/{cid}")
        assert deleted.status_code == 204 and deleted.content == b""
        _error(await gw.client.get(f"/api/conversations/{cid}"), 404)
        _error(await gw.client.get(f"/api/conversations/{cid}/messages"), 404)
        _error(await gw.client.delete(f"/api/conversations/{cid}"), 404)
        db = gw.app.state.services.db
        async with db.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(messages).where(messages.c.conversation_id == cid)
            )
        assert count == 0


async def _assert_all_404(other: httpx.AsyncClient, cid: str) -> None:
    base = f"/api/conversations/{cid}"
    _error(await other.get(base), 404)
    _error(await other.patch(base, json={"title": "mine now"}), 404)
    _error(await other.get(f"{base}/messages"), 404)
    _error(await other.post(f"{base}/messages", json={"content": "hi", "stream": True}), 404)
    _error(await other.post(f"{base}/messages", json={"content": "hi", "stream": False}), 404)
    _error(await other.post(f"{base}/cancel"), 404)
    _error(await other.delete(base), 404)
    assert (await other.get("/api/conversations")).json()["items"] == []


@pytest.mark.parametrize("other_kind", ["cookie", "api_key"])
async def test_another_identity_gets_404(tmp_path: Path, other_kind: str) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        await gw.send(cid, "my secret question")
        headers = {}
        if other_kind == "api_key":
            async with gw.app.state.services.db.connect() as conn:
                key, _ = await create_api_key(conn, name="other")
            headers = {"Authorization": f"Bearer {key}"}
        async with gw.other_client(headers=headers) as other:
            await _assert_all_404(other, cid)
        await _still_intact(gw, cid)


async def test_a_key_owner_is_isolated_from_browsers(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        async with gw.app.state.services.db.connect() as conn:
            key, _ = await create_api_key(conn, name="program")
        async with gw.other_client(headers={"Authorization": f"Bearer {key}"}) as program:
            created = await program.post("/api/conversations", json={})
            assert created.status_code == 201
            cid = created.json()["id"]
            assert "set-cookie" not in created.headers  # API calls get no cookie
        await _assert_all_404(gw.client, cid)


async def _still_intact(gw: Gateway, cid: str) -> None:
    assert (await gw.client.get(f"/api/conversations/{cid}")).status_code == 200
    items = await gw.messages(cid)
    assert [m["role"] for m in items] == ["user", "assistant"]
    assert items[0]["content"] == "my secret question"
