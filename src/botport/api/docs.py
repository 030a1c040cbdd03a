"""Interactive API docs at ``/docs``, served offline.

FastAPI's default docs page loads Swagger UI from a CDN and starts it with an inline script. botport
makes no request to another origin at run time, so the Swagger UI files come from the
``swagger-ui-bundle-v2`` package and a small script of our own starts them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(__file__).parent / "docs_assets"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – API docs</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/docs-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` when Swagger UI's files are installed; otherwise only ``/openapi.json``."""
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]
    except ImportError:  # the docs page is optional; the OpenAPI document is always served
        return
    app.mount("/docs-assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    page = _PAGE.format(title=app.title, openapi_url=app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs-init.js", include_in_schema=False)
    async def docs_init() -> HTMLResponse:
        return HTMLResponse((ASSETS / "docs-init.js").read_text(), media_type="text/javascript")
