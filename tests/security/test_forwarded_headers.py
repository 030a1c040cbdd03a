"""``Host`` and ``X-Forwarded-*`` are believed from the configured trusted proxies only: a direct client
cannot write its own host into the tool's OpenAPI document (it was copied from the request) nor pick
the address its requests are counted against. A real uvicorn server on loopback; "untrusted" is
loopback left out of ``trusted_proxies``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from botport.api.forwarded import ForwardedHeadersMiddleware, TrustedProxies
from botport.app import create_app
from botport.settings import Settings

DOC = "/api/tool/openapi.json"


def _server_url(base: str, headers: dict[str, str]) -> str:
    response = httpx.get(base + DOC, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["servers"][0]["url"])


def _serve(tmp_path: Path, live_server: Callable[..., Any], **settings: Any) -> str:
    app = create_app(Settings(data_dir=tmp_path, secret_key=SecretStr("a-test-secret-key"), **settings))
    return str(live_server(app).url)


@pytest.mark.live
def test_a_direct_clients_host_header_is_not_copied_into_the_tool_document(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    base = _serve(tmp_path, live_server, trusted_proxies=["10.0.0.0/8"])
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    assert _server_url(base, forged) == base  # the address the connection really came to


@pytest.mark.live
def test_a_trusted_proxy_says_where_users_reach_botport(
    tmp_path: Path, live_server: Callable[..., Any]
) -> None:
    base = _serve(tmp_path, live_server)  # loopback is trusted by default: a proxy on the same machine
    proxy = {"X-Forwarded-Host": "chat.example.com", "X-Forwarded-Proto": "https"}
    assert _server_url(base, proxy) == "https://chat.example.com"
    assert _server_url(base, {"Host": "chat.example.com"}) == "http://chat.example.com"
    assert _server_url(base, {"X-Forwarded-Host": "bad host/evil"}) == base  # not a host: ignored


@pytest.mark.live
def test_the_configured_public_url_wins(tmp_path: Path, live_server: Callable[..., Any]) -> None:
    base = _serve(tmp_path, live_server, public_url="https://bot.example.org/")
    assert _server_url(base, {"X-Forwarded-Host": "evil.example"}) == "https://bot.example.org"


async def _client_seen(trusted: list[str], peer: str, headers: dict[str, str]) -> tuple[str, str]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(client=scope["client"][0], scheme=scope["scheme"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = ForwardedHeadersMiddleware(app, trusted=TrustedProxies(trusted))
    transport = httpx.ASGITransport(app=guarded, client=(peer, 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/", headers=headers)
    return seen["client"], seen["scheme"]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),  # one trusted proxy
        ("10.0.0.2", "203.0.113.9, 10.0.0.7", "203.0.113.9"),  # two, both trusted
        ("10.0.0.2", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client forged the left end
        ("10.0.0.2", "[2001:db8::1]:4711", "2001:db8::1"),
        ("10.0.0.2", "203.0.113.9:4711", "203.0.113.9"),
        ("198.51.100.1", "203.0.113.9", "198.51.100.1"),  # not a proxy: its claim is ignored
        ("::ffff:10.0.0.2", "203.0.113.9", "203.0.113.9"),  # a v4 proxy on a dual-stack socket
    ],
)
async def test_the_caller_is_the_first_untrusted_hop(peer: str, forwarded_for: str, expected: str) -> None:
    client, _ = await _client_seen(["10.0.0.0/8"], peer, {"X-Forwarded-For": forwarded_for})
    assert client == expected


async def test_the_scheme_comes_from_a_trusted_proxy_only() -> None:
    assert (await _client_seen(["10.0.0.0/8"], "10.0.0.2", {"X-Forwarded-Proto": "https"}))[1] == "https"
    assert (await _client_seen(["10.0.0.0/8"], "198.51.100.1", {"X-Forwarded-Proto": "https"}))[1] == "http"
    assert (await _client_seen(["10.0.0.0/8"], "10.0.0.2", {"X-Forwarded-Proto": "gopher"}))[1] == "http"


async def test_a_proxy_left_out_of_the_trusted_list_is_named_once_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = ForwardedHeadersMiddleware(app, trusted=TrustedProxies(["10.0.0.0/8"]))
    transport = httpx.ASGITransport(app=guarded, client=("198.51.100.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(3):
            await client.get("/", headers={"X-Forwarded-For": "203.0.113.9"})
    warnings = [r.getMessage() for r in caplog.records if "BOTPORT_TRUSTED_PROXIES" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("198.51.100.1 sent X-Forwarded-For")
