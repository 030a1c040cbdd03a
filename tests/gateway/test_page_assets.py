"""The page's files: compressed once, revalidated by ETag, nothing outside the page folder."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest
from gateway_helpers import emulator, gateway, recording, token_settings
from starlette.applications import Starlette
from starlette.routing import Mount

from botport.api.page_assets import PageAssets

WEB = Path(__file__).resolve().parents[2] / "src" / "botport" / "web"


def _client(folder: Path) -> httpx.AsyncClient:
    app = Starlette(routes=[Mount("/static", PageAssets(folder))])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://testserver")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "big.js").write_text("export const words = " + repr("word " * 400) + ";\n")
    (tmp_path / "tiny.css").write_text("a{}")
    (tmp_path.parent / "secret.txt").write_text("not served")
    return tmp_path


async def test_a_browser_gets_gzip_and_the_same_bytes(folder: Path) -> None:
    async with _client(folder) as client:
        plain = await client.get("/static/js/big.js", headers={"Accept-Encoding": "identity"})
        packed = await client.get("/static/js/big.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) < int(plain.headers["content-length"]) / 5
    assert packed.content == plain.content  # httpx decodes: the same file either way
    assert plain.content == (folder / "js" / "big.js").read_bytes()


async def test_gzip_refused_by_q_zero_and_tiny_files_stay_plain(folder: Path) -> None:
    async with _client(folder) as client:
        refused = await client.get("/static/js/big.js", headers={"Accept-Encoding": "gzip;q=0"})
        tiny = await client.get("/static/tiny.css", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in refused.headers
    assert "content-encoding" not in tiny.headers and tiny.text == "a{}"


async def test_a_returning_visitor_gets_304(folder: Path) -> None:
    async with _client(folder) as client:
        first = await client.get("/static/js/big.js")
        again = await client.get("/static/js/big.js", headers={"If-None-Match": first.headers["etag"]})
        changed = await client.get("/static/js/big.js", headers={"If-None-Match": '"other"'})
    assert first.headers["cache-control"] == "no-cache"
    assert again.status_code == 304 and again.content == b""
    assert changed.status_code == 200


async def test_head_and_other_methods(folder: Path) -> None:
    async with _client(folder) as client:
        head = await client.head("/static/js/big.js", headers={"Accept-Encoding": "gzip"})
        post = await client.post("/static/js/big.js")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(
        gzip.compress((folder / "js" / "big.js").read_bytes(), compresslevel=9, mtime=0)
    )
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path", ["/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/js/../../secret.txt", "/static/"]
)
async def test_nothing_outside_the_folder(folder: Path, path: str) -> None:
    async with _client(folder) as client:
        response = await client.get(path)
    assert response.status_code == 404
    assert "not served" not in response.text


async def test_the_app_serves_the_page_compressed_with_its_headers(tmp_path: Path) -> None:
    async with gateway(token_settings(tmp_path), recording(emulator())) as gw:
        page = await gw.client.get("/", headers={"Accept-Encoding": "gzip"})
        script = await gw.client.get("/static/js/main.js", headers={"Accept-Encoding": "gzip"})
        for_conversation = await gw.client.get("/c/abc", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    assert page.content == (WEB / "index.html").read_bytes()
    assert for_conversation.content == page.content
    assert "content-security-policy" in page.headers  # the security headers still wrap the page
    assert script.headers["content-encoding"] == "gzip"
    assert script.content == (WEB / "js" / "main.js").read_bytes()
