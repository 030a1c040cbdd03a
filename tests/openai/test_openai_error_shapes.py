"""Errors raised before a /v1 route runs (unknown path, wrong method, body too large) still come in
OpenAI's error shape, so OpenAI clients show their message."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from botport.app import create_app
from botport.settings import Settings


def _is_openai_error(body: dict[str, object], code: str) -> None:
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code and error["message"]


def test_router_and_middleware_errors_take_openai_shape(tmp_path: Path) -> None:
    # /v1/chat/completions takes room for its attachments as data: URLs on top of max_body_bytes.
    settings = Settings(data_dir=tmp_path, max_body_bytes=1000, max_attachment_bytes=1000, max_attachments=1)
    app = create_app(settings)
    with TestClient(app) as client:
        missing = client.get("/v1/nothing-here")
        assert missing.status_code == 404
        _is_openai_error(missing.json(), "not_found")

        wrong_method = client.get("/v1/chat/completions")
        assert wrong_method.status_code == 405
        _is_openai_error(wrong_method.json(), "method_not_allowed")

        too_large = client.post("/v1/chat/completions", content=b"x" * 5000)
        assert too_large.status_code == 413
        _is_openai_error(too_large.json(), "payload_too_large")

        # botport's own API keeps its own shape.
        own = client.get("/api/nothing-here")
        assert own.status_code == 404 and set(own.json()["error"]) == {"code", "message"}
