"""SecurityHeadersMiddleware on a tiny app (no browser needed; it lives beside the page's tests).

Synchronous on purpose (Starlette's TestClient): the browser tests' Playwright keeps an event loop of
its own in this process, and pytest-asyncio tests collected after it would not run."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from botport.security_headers import CONTENT_SECURITY_POLICY, SecurityHeadersMiddleware


async def page(request: Request) -> Response:
    return PlainTextResponse("hi")


async def own_csp(request: Request) -> Response:
    return PlainTextResponse("hi", headers={"Content-Security-Policy": "default-src 'none'"})


async def stream(request: Request) -> Response:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b"event: a\ndata: 1\n\n"
        yield b"event: b\ndata: 2\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


def client() -> TestClient:
    app = Starlette(
        routes=[Route("/", page), Route("/docs", page), Route("/own", own_csp), Route("/stream", stream)]
    )
    return TestClient(SecurityHeadersMiddleware(app))


def test_every_response_gets_the_headers() -> None:
    with client() as http:
        for path in ("/", "/stream", "/missing"):
            response = http.get(path)
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"


def test_streams_pass_through_untouched() -> None:
    with client() as http:
        response = http.get("/stream")
    assert response.text == "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"


def test_docs_page_gets_the_policy_too() -> None:
    with client() as http:
        response = http.get("/docs")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_header_set_by_the_app_wins() -> None:
    with client() as http:
        response = http.get("/own")
    assert response.headers.get_list("content-security-policy") == ["default-src 'none'"]


def test_the_policy_allows_nothing_inline_or_foreign() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
