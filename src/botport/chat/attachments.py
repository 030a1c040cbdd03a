"""Attachments, the one place that turns bytes from any edge into an attachment, and attachments into
the parts of a Coze question.

- :func:`store_attachment`: check the size, the type (by its bytes, :mod:`botport.images`) and how many
  uploads wait to be sent, read an image's size, upload it to Coze, then store it (bytes and Coze's
  file id). When Coze refuses the file nothing is stored and the error says why.
- :func:`decode_data_url`: a ``data:`` URL's bytes, its size checked before it is decoded.
- :func:`message_parts`: a question's ``object_string`` parts: its text, an ``image`` part per image
  and a ``file`` part per other file (by Coze file id), and ``file_url`` parts for remote ``https``
  files, which botport never fetches (Coze does).
- :func:`attachments_for_turn`: the caller's attachments that a new question names (404 for an id that
  is not theirs); :func:`question_attachments` and :func:`attachments_for_edit` for a new version of
  a stored question (a regenerated answer asks it with its attachments; an edit keeps them, copied).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_to_bytes, urlsplit

from botport.errors import BadRequestError, NotFoundError, PayloadTooLargeError, TooManyRequestsError
from botport.images import EXTENSIONS, NotAnImage, image_size, sniff
from botport.store.attachments import (
    AttachmentRecord,
    NewAttachment,
    attachments_of,
    copy_attachments,
    count_unsent,
    insert_attachment,
    owned_attachments,
)
from botport.store.db import Database
from botport.upstream.client import CozeClient

UNSENT_PER_MESSAGE = 5  # an owner may hold this many times max_attachments uploads not yet sent
MAX_NAME_CHARS = 200

PartKind = Literal["image", "file"]


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    max_bytes: int  # of one attachment
    max_count: int  # attachments of one message (0: attachments are off)

    @property
    def max_unsent(self) -> int:
        return max(self.max_count * UNSENT_PER_MESSAGE, 1)


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """A file by URL (``file_url``): Coze fetches it; botport never does."""

    url: str
    kind: PartKind = "image"


def too_large(limits: AttachmentLimits) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"an attachment may have at most {limits.max_bytes} bytes", code="attachment_too_large"
    )


def unsupported(detail: str) -> BadRequestError:
    return BadRequestError(
        f"{detail}; botport takes PNG, JPEG, GIF and WebP images, PDF, and txt, md, csv, json, "
        "docx, xlsx, pptx, doc, xls and ppt files",
        code="unsupported_attachment_type",
        status=415,
    )


def safe_name(name: str, extension: str) -> str:
    """A file name to keep and show: its last path part, one line, no control characters, at most
    MAX_NAME_CHARS; ``file.<extension>`` when nothing is left."""
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", base)
    base = " ".join(base.split()).strip(". ")
    try:
        base.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: not a name
        base = ""
    if len(base) > MAX_NAME_CHARS:
        _, dot, ext = base.rpartition(".")
        keep = f".{ext}" if dot and len(ext) <= 10 else ""
        base = base[: MAX_NAME_CHARS - len(keep)] + keep
    return base or f"file.{extension}"


async def store_attachment(
    db: Database,
    coze: CozeClient,
    limits: AttachmentLimits,
    *,
    owner: str,
    name: str,
    content_type_hint: str,
    data: bytes,
) -> AttachmentRecord:
    """Check, upload to Coze and store one attachment of ``owner``'s; its record."""
    if limits.max_count == 0:
        raise BadRequestError(
            "attachments are turned off on this server", code="attachments_disabled", status=403
        )
    if not data:
        raise BadRequestError("the file is empty", code="empty_attachment")
    if len(data) > limits.max_bytes:
        raise too_large(limits)
    found = sniff(data, name, content_type_hint)
    if found is None:
        raise unsupported(f"{safe_name(name, 'bin')!r} is not a type botport takes")
    width = height = None
    if found.is_image:
        try:
            width, height = image_size(data)
        except NotAnImage as exc:
            raise unsupported(f"the image cannot be read ({exc})") from None
    unsent = await db.read_op(lambda conn: count_unsent(conn, owner=owner))
    if unsent >= limits.max_unsent:
        raise TooManyRequestsError(
            f"{unsent} uploads wait to be sent; send or wait for them before uploading more",
            code="too_many_unsent_attachments",
            retry_after=60,
        )
    clean = safe_name(name, found.extension)
    digest = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
    # Coze first: an attachment botport keeps is one Coze has (a refusal leaves nothing behind).
    file_id = await coze.upload_file(clean, found.content_type, data)
    new = NewAttachment(
        owner=owner,
        name=clean,
        content_type=found.content_type,
        size=len(data),
        width=width,
        height=height,
        sha256=digest,
        data=data,
        coze_file_id=file_id,
    )
    # Through the async connection (its own thread on SQLite): megabytes stay off the event loop.
    async with db.connect() as conn:
        return await conn.run_sync(lambda sync: insert_attachment(sync, new=new))


# --- data: URLs -------------------------------------------------------------------------------

_DATA_URL = re.compile(r"^data:(?P<type>[^,;]*)(?P<params>(?:;[^,;]*)*?)(?P<b64>;base64)?,", re.IGNORECASE)


def decode_data_url(url: str, *, max_bytes: int) -> tuple[str, bytes]:
    """The declared type and the bytes of ``data:<type>[;base64],<data>``. The size is checked from
    the encoded length before anything is decoded (413 ``attachment_too_large``); a malformed URL
    is 400 ``invalid_data_url``."""
    head = _DATA_URL.match(url[:1024])
    if head is None:
        raise BadRequestError("a data URL must look like data:<type>;base64,<data>", code="invalid_data_url")
    payload = url[head.end() :]
    declared = head.group("type").strip().lower()
    if head.group("b64"):
        stripped = payload.rstrip("=")
        if len(stripped) * 3 // 4 > max_bytes:
            raise PayloadTooLargeError(
                f"an attachment may have at most {max_bytes} bytes", code="attachment_too_large"
            )
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequestError("the data URL's base64 is not valid", code="invalid_data_url") from None
    else:
        if len(payload) // 3 > max_bytes:  # each byte takes one to three characters (%XX)
            raise PayloadTooLargeError(
                f"an attachment may have at most {max_bytes} bytes", code="attachment_too_large"
            )
        data = unquote_to_bytes(payload)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(
            f"an attachment may have at most {max_bytes} bytes", code="attachment_too_large"
        )
    return declared, data


def data_url_name(declared: str) -> str:
    """A name for a file that came without one (a data: URL): ``image.png``, ``file.pdf``."""
    extension = EXTENSIONS.get(declared, "bin")
    return f"{'image' if declared.startswith('image/') else 'file'}.{extension}"


# --- remote files -----------------------------------------------------------------------------


def remote_file(url: str, kind: PartKind = "image") -> RemoteFile:
    """A file Coze fetches by URL: ``https`` with a host only (400 ``invalid_file_url``)."""
    parts = urlsplit(url)
    blank = any(c.isspace() for c in url)
    if parts.scheme.lower() != "https" or not parts.hostname or len(url) > 2048 or blank:
        raise BadRequestError("a file URL must be an https:// address", code="invalid_file_url")
    return RemoteFile(url, kind)


# --- a question's parts ---------------------------------------------------------------------------


def message_parts(
    text: str, attachments: Sequence[AttachmentRecord], remote: Sequence[RemoteFile] = ()
) -> list[dict[str, Any]]:
    """The ``object_string`` parts of a question: its text (if any), then each attachment by its Coze
    file id (an image as ``image``, anything else as ``file``), then the remote files by URL."""
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for item in attachments:
        if not item.coze_file_id:
            raise BadRequestError(
                f"the attachment {item.name!r} was never uploaded to Coze", code="attachment_not_uploaded"
            )
        parts.append({"type": "image" if item.is_image else "file", "file_id": item.coze_file_id})
    parts += [{"type": f.kind, "file_url": f.url} for f in remote]
    return parts


async def attachments_for_turn(
    db: Database, *, owner: str, ids: Sequence[str], limits: AttachmentLimits
) -> tuple[AttachmentRecord, ...]:
    """The caller's attachments ``ids`` names, in that order: 400 past the limit or for a repeated
    id, 404 ``attachment_not_found`` for an id that is not theirs (someone else's, unknown, swept)."""
    if not ids:
        return ()
    if len(ids) > limits.max_count:
        raise BadRequestError(
            f"a message may carry at most {limits.max_count} attachments", code="too_many_attachments"
        )
    if len(set(ids)) != len(ids):
        raise BadRequestError("an attachment is named twice", code="duplicate_attachment")
    found = await db.read_op(lambda conn: owned_attachments(conn, owner=owner, ids=ids))
    missing = [i for i in ids if i not in {a.id for a in found}]
    if missing:
        raise NotFoundError(f"no such attachment: {missing[0]}", code="attachment_not_found")
    return tuple(found)


async def question_attachments(db: Database, *, message_id: str) -> tuple[AttachmentRecord, ...]:
    """A stored question's attachments (a regenerated answer asks it again with them)."""
    found = await db.read_op(lambda conn: attachments_of(conn, message_ids=[message_id]))
    return tuple(found.get(message_id, ()))


async def attachments_for_edit(
    db: Database,
    *,
    owner: str,
    question_id: str,
    ids: Sequence[str] | None,
    limits: AttachmentLimits,
) -> tuple[AttachmentRecord, ...]:
    """The attachments of a new version of the question ``question_id``: its own (``ids`` None), or
    exactly ``ids``, each one of its own or a new upload. Its own are copied (the new version has
    rows of its own; same bytes, same Coze file)."""
    own = await question_attachments(db, message_id=question_id)
    wanted = [a.id for a in own] if ids is None else list(ids)
    own_ids = {a.id for a in own}
    fresh = [i for i in wanted if i not in own_ids]
    if len(wanted) > limits.max_count or len(set(wanted)) != len(wanted):
        await attachments_for_turn(db, owner=owner, ids=wanted, limits=limits)  # raises its 400
    uploads = {a.id: a for a in await attachments_for_turn(db, owner=owner, ids=fresh, limits=limits)}
    kept = [i for i in wanted if i in own_ids]
    copies: dict[str, AttachmentRecord] = {}
    if kept:  # megabytes: through the async connection, off the event loop (see store_attachment)
        async with db.connect() as conn:
            copies = await conn.run_sync(lambda sync: copy_attachments(sync, owner=owner, ids=kept))
    missing = [i for i in kept if i not in copies]  # deleted meanwhile (its conversation, say)
    if missing:
        raise NotFoundError(f"no such attachment: {missing[0]}", code="attachment_not_found")
    return tuple(copies[i] if i in copies else uploads[i] for i in wanted)
