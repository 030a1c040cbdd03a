"""The API docs page works offline: every asset comes from botport itself."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from starlette.testclient import TestClient

from botport.app import create_app
from botport.settings import Settings


def test_docs_page_loads_only_local_assets(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert "<script>" not in page.text  # no inline script: the starter is a file
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets)
        for url in assets:
            assert client.get(url).status_code == 200, url
        assert client.get("/openapi.json").json()["info"]["title"] == "botport"
        assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN


def test_openapi_document_in_docs_is_current() -> None:
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("gen_openapi", root / "scripts" / "gen_openapi.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    current = (root / "docs" / "openapi.json").read_text(encoding="utf-8")
    stale = "docs/openapi.json is out of date: run python scripts/gen_openapi.py"
    assert current == generator.render(), stale
