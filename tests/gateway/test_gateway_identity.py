"""Identity: the signed browser cookie, API keys, and the Coze user_id derived on the server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
from gateway_helpers import BASE, gateway, recording, token_settings

from botport.store.keys import create_api_key, revoke_api_key


def _cookie_header(response: httpx.Response) -> str:
    cookies = response.headers.get_list("set-cookie")
    assert len(cookies) == 1, cookies
    return cookies[0]


async def test_first_request_sets_a_signed_httponly_lax_cookie(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        first = await gw.client.get("/api/conversations")
        header = _cookie_header(first)
        name_value, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = name_value.partition("=")
        assert name == "botport_id"
        identity_id, _, signature = value.partition(".")
        assert identity_id and signature
        lowered = [a.lower() for a in attributes]
        assert "httponly" in lowered
        assert "samesite=lax" in lowered
        assert "path=/" in lowered
        assert "secure" not in lowered  # plain http in tests; https public_url adds it
        # Later requests carry it and get no new cookie.
        again = await gw.client.get("/api/conversations")
        assert "set-cookie" not in again.headers


async def test_secure_cookie_behind_https(tmp_path: Path) -> None:
    settings = token_settings(tmp_path, public_url="https://chat.example.org")
    async with gateway(settings, recording()) as gw:
        header = _cookie_header(await gw.client.get("/healthz"))
        assert "secure" in [a.strip().lower() for a in header.split(";")]


async def test_tampered_cookie_gets_a_new_identity(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        cid = await gw.conversation()
        value = gw.client.cookies["botport_id"]
        identity_id, _, signature = value.partition(".")
        flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
        forgeries = [
            f"{identity_id}.{flipped}",  # signature changed
            f"{identity_id}x.{signature}",  # identity changed
            identity_id,  # signature dropped
            f"someone-else.{signature}",
        ]
        for forged in forgeries:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(gw.app), base_url=BASE, cookies={"botport_id": forged}
            ) as attacker:
                listed = await attacker.get("/api/conversations")
                assert listed.json()["items"] == [], forged
                new_cookie = _cookie_header(listed)
                assert forged not in new_cookie
                attacker.cookies.clear()  # the jar would send both (the forged one has no domain)
                attacker.cookies.set("botport_id", forged)
                assert (await attacker.get(f"/api/conversations/{cid}")).status_code == 404
        # The genuine cookie still works.
        assert (await gw.client.get(f"/api/conversations/{cid}")).status_code == 200


async def test_api_keys_authenticate_and_bad_ones_get_401(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording()) as gw:
        db = gw.app.state.services.db
        async with db.connect() as conn:
            key, record = await create_api_key(conn, name="ci")
        auth = {"Authorization": f"Bearer {key}"}
        created = await gw.client.post("/api/conversations", json={}, headers=auth)
        assert created.status_code == 201
        cid = created.json()["id"]
        listed = await gw.client.get("/api/conversations", headers=auth)
        assert [c["id"] for c in listed.json()["items"]] == [cid]

        for header in (
            f"Bearer {key}x",
            "Bearer bp_not_a_key",
            "Bearer ",
            f"Basic {key}",
            "Bearer " + "bp_" + "a" * 5000,
        ):
            response = await gw.client.get("/api/conversations", headers={"Authorization": header})
            assert response.status_code == 401, header
            error = response.json()["error"]
            assert error["code"] and error["message"]
            assert key not in response.text

        async with db.connect() as conn:
            await revoke_api_key(conn, record.id)
        revoked = await gw.client.get(f"/api/conversations/{cid}", headers=auth)
        assert revoked.status_code == 401
        assert revoked.json()["error"]["code"] == "invalid_api_key"


async def test_a_key_from_the_cli_works(tmp_path: Path) -> None:
    settings = token_settings(tmp_path)
    env = {
        **os.environ,
        "BOTPORT_DATA_DIR": str(tmp_path),
        "BOTPORT_DATABASE_URL": settings.resolved_database_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "botport.cli",
        "keys",
        "create",
        "from-cli",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    key = stdout.decode().strip()
    assert key.startswith("bp_") and "\n" not in key
    assert key not in stderr.decode()  # data to stdout, diagnostics to stderr
    async with gateway(settings, recording()) as gw:
        response = await gw.client.post(
            "/api/conversations", json={}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 201


async def test_coze_user_id_is_derived_per_identity(tmp_path: Path) -> None:
    transport = recording()
    async with gateway(token_settings(tmp_path), transport) as gw:
        async with gw.app.state.services.db.connect() as conn:
            key, _ = await create_api_key(conn, name="prog")

        async def one_turn(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> str:
            created = await client.post("/api/conversations", json={}, headers=headers)
            cid = created.json()["id"]
            response = await client.post(
                f"/api/conversations/{cid}/messages",
                json={"content": "hi", "stream": False},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            body = transport.paths("/v3/chat")[-1].body
            return str(body["user_id"])

        first = await one_turn(gw.client)
        again = await one_turn(gw.client)  # same identity, another conversation
        async with gw.other_client() as other:
            second = await one_turn(other)
        by_key = await one_turn(gw.client, {"Authorization": f"Bearer {key}"})
        by_key_again = await one_turn(gw.client, {"Authorization": f"Bearer {key}"})
    assert first == again
    assert by_key == by_key_again
    assert len({first, second, by_key}) == 3
    cookie_id = gw.client.cookies["botport_id"].partition(".")[0]
    for user_id in (first, second, by_key):
        assert user_id.startswith("bp-")
        assert cookie_id not in user_id  # opaque: not the cookie value itself
