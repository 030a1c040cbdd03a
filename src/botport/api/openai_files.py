"""Images and files in OpenAI requests: the parts of a user message that are not text.

Chat Completions sends ``image_url`` parts (``{"image_url": {"url": ...}}``) and ``file`` parts
(``{"file": {"file_data": "data:...", "filename": ...}}``); the Responses API sends ``input_image``
(``{"image_url": ...}``) and ``input_file`` (``{"file_data": ..., "filename": ...}`` or ``file_url``).
Each becomes an :class:`InputFile`: a ``data:`` URL is decoded and stored as an attachment that is
uploaded to Coze; an ``https`` URL is handed to Coze as ``file_url``, never fetched by botport (a
gateway that fetched URLs for its callers would let them reach its own network). ``file_id`` names
an attachment uploaded before with ``POST /api/files``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botport.api.files import attachment_limits
from botport.api.openai_errors import OpenAIError, with_param
from botport.chat.attachments import (
    RemoteFile,
    attachments_for_turn,
    data_url_name,
    decode_data_url,
    remote_file,
    store_attachment,
)
from botport.errors import BadRequestError, BotportError
from botport.identity import Identity
from botport.store.attachments import AttachmentRecord

if TYPE_CHECKING:
    from botport.api.deps import Services

Kind = Literal["image", "file"]


@dataclass(frozen=True, slots=True)
class InputFile:
    """One image or file of the question, as the request gave it (exactly one of the three set)."""

    kind: Kind
    param: str  # where it was in the request, for errors
    data_url: str | None = None
    url: str | None = None  # https, handed to Coze as it is
    file_id: str | None = None  # an attachment of the caller's (POST /api/files)
    name: str | None = None


def _bad(message: str, param: str, code: str = "invalid_file") -> OpenAIError:
    return with_param(BadRequestError(message, code=code), param)


def _from_url(kind: Kind, url: object, param: str, name: str | None = None) -> InputFile:
    if not isinstance(url, str) or not url:
        raise _bad(f"{param} needs a URL: a data: URL or an https URL", param)
    if url.startswith("data:"):
        return InputFile(kind, param, data_url=url, name=name)
    if url.startswith("https://") and len(url) <= 2048:
        return InputFile(kind, param, url=url, name=name)
    raise _bad(
        f"{param} must be a data: URL (the bytes, base64) or an https URL of at most 2048 characters",
        param,
        code="unsupported_file_url",
    )


def image_input(url: str, param: str) -> InputFile:
    """An image given by URL alone (an MCP tool's argument): a data: or an https URL."""
    return _from_url("image", url, param)


def _named(value: object, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"{param} must be a string", param)
    return value


def _from_file(kind: Kind, spec: dict[str, Any], param: str) -> InputFile:
    """A part that may carry ``file_id``, ``file_data`` (a data: URL or bare base64) or ``file_url``."""
    name = _named(spec.get("filename"), f"{param}.filename")
    file_id = spec.get("file_id")
    if file_id is not None:
        if not isinstance(file_id, str) or not file_id:
            raise _bad(f"{param}.file_id must be a string", f"{param}.file_id")
        return InputFile(kind, param, file_id=file_id, name=name)
    data = spec.get("file_data")
    if data is not None:
        if not isinstance(data, str) or not data:
            raise _bad(f"{param}.file_data must be a data: URL or base64", f"{param}.file_data")
        if not data.startswith("data:"):  # bare base64, as some clients send it: its type is sniffed
            data = "data:application/octet-stream;base64," + data
        return InputFile(kind, param, data_url=data, name=name)
    if spec.get("file_url") is not None:
        return _from_url(kind, spec.get("file_url"), f"{param}.file_url", name)
    if kind == "image" and spec.get("image_url") is not None:
        return _from_url(kind, spec.get("image_url"), f"{param}.image_url", name)
    raise _bad(f"{param} needs file_id, file_data or file_url", param)


def chat_part(part: dict[str, Any], param: str) -> InputFile | None:
    """A Chat Completions content part: an :class:`InputFile`, or None for a text part."""
    kind = part.get("type")
    if kind == "text":
        return None
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _from_url("image", url, f"{param}.image_url.url")
    if kind == "file":
        spec = part.get("file")
        if not isinstance(spec, dict):
            raise _bad(f"{param}.file must be an object", f"{param}.file")
        return _from_file("file", spec, f"{param}.file")
    raise _bad(
        f"{param} is a {kind!r} part; this endpoint takes text, image_url and file parts",
        param,
        code="unsupported_content",
    )


def response_part(part: dict[str, Any], param: str) -> InputFile | None:
    """A Responses API content part of a user message: an :class:`InputFile`, or None for text."""
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return None
    if kind == "input_image":
        return _from_file("image", part, param)
    if kind == "input_file":
        return _from_file("file", part, param)
    raise _bad(
        f"{param} is a {kind!r} part; this endpoint takes input_text, input_image and input_file parts",
        param,
        code="unsupported_content",
    )


async def attach_files(
    services: Services, identity: Identity, files: Sequence[InputFile]
) -> tuple[tuple[AttachmentRecord, ...], tuple[RemoteFile, ...]]:
    """The question's files made attachments (``data:`` URLs stored and uploaded to Coze, ``file_id``s
    looked up among the caller's) and remote files (https URLs, for Coze to fetch). Each error names
    the part it is about."""
    limits = attachment_limits(services.settings)
    if len(files) > limits.max_count:
        raise with_param(
            BadRequestError(
                f"a message may carry at most {limits.max_count} images and files",
                code="too_many_attachments",
            ),
            files[limits.max_count].param,
        )
    attachments: list[AttachmentRecord] = []
    remote: list[RemoteFile] = []
    for found in files:
        try:
            if found.url is not None:
                remote.append(remote_file(found.url, found.kind))
            elif found.file_id is not None:
                attachments += await attachments_for_turn(
                    services.db, owner=identity.owner, ids=[found.file_id], limits=limits
                )
            else:
                assert found.data_url is not None
                declared, data = decode_data_url(found.data_url, max_bytes=limits.max_bytes)
                attachments.append(
                    await store_attachment(
                        services.db,
                        services.chat.coze,
                        limits,
                        owner=identity.owner,
                        name=found.name or data_url_name(declared),
                        content_type_hint=declared,
                        data=data,
                    )
                )
        except OpenAIError:
            raise
        except BotportError as exc:
            raise with_param(exc, found.param) from None
    if len({a.id for a in attachments}) != len(attachments):
        raise with_param(
            BadRequestError("an attachment is named twice", code="duplicate_attachment"), files[0].param
        )
    return tuple(attachments), tuple(remote)
