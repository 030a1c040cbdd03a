"""``/api/files``: upload an image or a file to attach to a message, read it back (its owner only), or
delete it before it is sent.

An upload is checked by its bytes (:mod:`botport.images`), sent on to Coze and stored
(:func:`botport.chat.attachments.store_attachment`); a message then names it by id
(``POST /api/conversations/{id}/messages`` with ``attachments``). See docs/api.md, "Attachments".

The body limits of the routes that take attachments are here too (:func:`attachment_body_limits`):
the upload's, and the JSON edges' that carry files as ``data:`` URLs.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Header, Path, Request, Response
from starlette.datastructures import UploadFile

from botport.api.deps import IdentityDep, ServicesDep
from botport.api.limits import RouteLimit
from botport.api.responses import ErrorBody, errors
from botport.api.schemas import Attachment
from botport.chat.attachments import AttachmentLimits, store_attachment, too_large
from botport.errors import BadRequestError, ConflictError, NotFoundError
from botport.images import ACCEPTED_TYPES
from botport.settings import Settings
from botport.store.attachments import ID_PATTERN, attachment_data, delete_unsent

router = APIRouter(
    prefix="/api", tags=["files"], responses=errors(ErrorBody, 400, 401, 403, 404, 408, 422, 429)
)

MULTIPART_SLACK = 64 * 1024  # the multipart framing around the file: boundaries, part headers, a name
JSON_ATTACHMENTS_CAP = 32 * 1024 * 1024  # the most a JSON body with data: URLs may have (it is parsed whole)
CACHE_SECONDS = 86_400  # an attachment never changes: the browser keeps it a day
SANDBOX = "sandbox; default-src 'none'"
# The JSON edges that may carry attachments as base64 data: URLs.
JSON_ATTACHMENT_ROUTES = ("/v1/chat/completions", "/v1/responses", "/mcp")

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "One file: an image or a document of a type in attachment_types "
                        "(GET /api/config), judged by its bytes (else 415); never empty (else 400).",
                    }
                },
                "additionalProperties": False,
            }
        }
    },
}
_FILE_CONTENT = {kind: {"schema": {"type": "string", "format": "binary"}} for kind in ACCEPTED_TYPES}


def document_limits(app: FastAPI, settings: Settings) -> None:
    """The app's OpenAPI document gives this server's limit on a message's attachments (the model
    allows the most any server may set)."""
    describe = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = describe().get("components", {}).get("schemas", {})
            if "MessageCreate" in schemas:
                schemas["MessageCreate"]["properties"]["attachments"]["maxItems"] = settings.max_attachments
        return app.openapi_schema or describe()

    app.openapi = openapi  # type: ignore[method-assign]


def attachment_limits(settings: Settings) -> AttachmentLimits:
    return AttachmentLimits(max_bytes=settings.max_attachment_bytes, max_count=settings.max_attachments)


def json_attachment_body_bytes(settings: Settings) -> int:
    """The body limit of the JSON edges that take ``data:`` URLs: every attachment a message may carry
    at its largest, base64-encoded (4/3), plus the usual limit for the rest; at most
    :data:`JSON_ATTACHMENTS_CAP` (such a body is read and parsed whole), never below the usual limit."""
    encoded = -(-settings.max_attachment_bytes // 3) * 4
    wanted = encoded * settings.max_attachments + settings.max_body_bytes
    return max(settings.max_body_bytes, min(wanted, JSON_ATTACHMENTS_CAP))


def attachment_body_limits(settings: Settings) -> list[RouteLimit]:
    """The routes that take bigger bodies than ``max_body_bytes`` (for BodySizeLimitMiddleware)."""
    if settings.max_attachments == 0:
        return []
    upload = RouteLimit(
        "POST",
        "/api/files",
        settings.max_attachment_bytes + MULTIPART_SLACK,
        code="attachment_too_large",
        message=f"an attachment may have at most {settings.max_attachment_bytes} bytes",
    )
    json_limit = json_attachment_body_bytes(settings)
    return [upload, *(RouteLimit("POST", path, json_limit) for path in JSON_ATTACHMENT_ROUTES)]


@router.post(
    "/files",
    status_code=201,
    response_model=Attachment,
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses=errors(ErrorBody, 413, 415, 502, 503, 504),
)
async def upload_file(request: Request, identity: IdentityDep, services: ServicesDep) -> Attachment:
    """Attach an image (PNG, JPEG, GIF, WebP) or a document (PDF, txt, md, csv, json, Office) to a
    message to come: multipart field ``file``. Its type is read from its bytes. The file is uploaded to
    Coze at once; a file no message carries within a day is deleted."""
    limits = attachment_limits(services.settings)
    async with request.form(max_files=1, max_fields=0) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequestError("send one file in the multipart field 'file'", code="missing_file")
        if upload.size is not None and upload.size > limits.max_bytes:
            raise too_large(limits)
        data = await upload.read(limits.max_bytes + 1)
        name, hint = upload.filename or "", upload.content_type or ""
    record = await store_attachment(
        services.db,
        services.chat.coze,
        limits,
        owner=identity.owner,
        name=name,
        content_type_hint=hint,
        data=data,
    )
    return Attachment.of(record)


@router.get(
    "/files/{attachment_id}",
    response_class=Response,
    responses={
        200: {"content": _FILE_CONTENT, "description": "The file's bytes, as the type botport found."},
        304: {"description": "Not modified (If-None-Match)."},
    },
)
async def download_file(
    attachment_id: Annotated[str, Path(pattern=ID_PATTERN)],
    identity: IdentityDep,
    services: ServicesDep,
    if_none_match: Annotated[str, Header(alias="If-None-Match")] = "",
) -> Response:
    """An attachment's bytes, to its owner (anyone else: 404). An image is shown inline; any other
    file is a download."""
    owner = identity.owner
    async with services.db.read() as conn:
        found = await conn.run_sync(
            lambda sync: attachment_data(sync, owner=owner, attachment_id=attachment_id)
        )
    if found is None:
        raise NotFoundError("no such file", code="attachment_not_found")
    record, data = found
    etag = f'"{record.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={CACHE_SECONDS}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX,
        "Cross-Origin-Resource-Policy": "same-origin",
        "Content-Disposition": disposition(record.name, inline=record.is_image),
    }
    if etag in (tag.strip() for tag in if_none_match.split(",")) or if_none_match.strip() == "*":
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=record.content_type, headers=headers)


@router.delete(
    "/files/{attachment_id}",
    status_code=204,
    response_class=Response,
    responses=errors(ErrorBody, 404, 409),
)
async def delete_file(
    attachment_id: Annotated[str, Path(pattern=ID_PATTERN)], identity: IdentityDep, services: ServicesDep
) -> Response:
    """Delete an upload that no message carries yet (a file taken out before sending). A sent file
    goes with its message: 409."""
    owner = identity.owner
    deleted = await services.db.write(
        lambda conn: delete_unsent(conn, owner=owner, attachment_id=attachment_id)
    )
    if deleted is None:
        raise NotFoundError("no such file", code="attachment_not_found")
    if not deleted:
        raise ConflictError(
            "this file was sent with a message: it goes when that message goes", code="attachment_sent"
        )
    return Response(status_code=204)


def disposition(name: str, *, inline: bool) -> str:
    """``inline`` or ``attachment`` with the file's name: an ASCII ``filename`` every client reads, and
    the name itself in ``filename*`` (RFC 5987) for those that take UTF-8. Nothing in it can name a
    path or break the header."""
    readable = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|;]+', " ", unicodedata.normalize("NFC", name))
    readable = " ".join(readable.split()).strip(". ") or "file"
    stem, dot, ext = readable.rpartition(".")
    if not dot:
        stem, ext = readable, ""
    ascii_stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-") or "file"
    ascii_ext = re.sub(r"[^A-Za-z0-9]+", "", ext)
    ascii_name = f"{ascii_stem}.{ascii_ext}" if ascii_ext else ascii_stem
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(readable, safe='')}"
