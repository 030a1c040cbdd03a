"""The page's files (``src/botport/web``), served from memory, compressed once at start.

Why not ``StaticFiles``: it sends every file as it is on disk, and a first visit carried about 128 KB
of uncompressed JavaScript and CSS. Here each file is read once, gzipped once (level 9: the cost is
paid at start, never per request), and answered with an ``ETag``, so a returning visitor gets a 304.
Only files that were there at start are served: a path is a key in a dict, never joined to a folder,
so ``..`` or a symlink cannot reach anything else.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

# Bodies this small gain nothing from compression once the headers are counted.
MIN_COMPRESSED_SIZE = 512
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    content_type: str
    body: bytes
    gzipped: bytes | None  # None: not worth it
    etag: str


def load_asset(path: Path) -> Asset:
    body = path.read_bytes()
    content_type = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if content_type.startswith("text/html"):
        content_type = "text/html; charset=utf-8"
    compressible = content_type.startswith(("text/", "image/svg", "application/json"))
    # mtime=0: the same file always compresses to the same bytes (one ETag on every instance).
    gzipped = gzip.compress(body, compresslevel=9, mtime=0) if compressible else None
    if gzipped is not None and (len(body) < MIN_COMPRESSED_SIZE or len(gzipped) >= len(body)):
        gzipped = None
    return Asset(content_type, body, gzipped, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')


def load_folder(folder: Path) -> dict[str, Asset]:
    """Every file under ``folder`` by its path relative to it (``js/main.js``)."""
    return {
        path.relative_to(folder).as_posix(): load_asset(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


def asset_response(request: Request, asset: Asset) -> Response:
    """The asset for this request: 304 when the browser has it, gzipped when it accepts that."""
    headers = {"ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and _accepts_gzip(request.headers.get("accept-encoding", "")):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=asset.content_type)
    return Response(body, headers=headers, media_type=asset.content_type)


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


class PageAssets:
    """An ASGI app for a mount (``/static``): the file named by the rest of the path, or 404."""

    def __init__(self, folder: Path) -> None:
        self.assets = load_folder(folder)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        asset = self.assets.get(scope["path"].removeprefix(scope.get("root_path", "")).lstrip("/"))
        if request.method not in ("GET", "HEAD"):
            response = Response(status_code=405, headers={"Allow": "GET, HEAD"})
        elif asset is None:
            response = Response("Not Found", status_code=404, media_type="text/plain")
        else:
            response = asset_response(request, asset)
        await response(scope, receive, send)
