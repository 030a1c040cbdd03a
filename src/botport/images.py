"""What a file really is, from its bytes: the attachment types botport takes, and an image's size.

Images (PNG, JPEG, GIF, WebP) and PDF are recognised by their first bytes, whatever their name says.
Other documents are taken by their name's extension, for a short allow-list only (text, Markdown, CSV,
JSON and the Office formats); anything else is refused. SVG is never an image here: it can carry
script, and a browser runs it when the file is opened. An executable is refused under any name.

An image's width and height are read from its header by hand (no image library): every reader is
bounded by the bytes it was given, so a truncated or hostile file gives :class:`NotAnImage`, never
another exception and never a long loop.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")

# extension -> the type botport stores and serves the file as
DOCUMENT_TYPES: dict[str, str] = {
    "txt": "text/plain",
    "md": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
}
EXTENSIONS: dict[str, str] = {  # accepted type -> the extension a name without one gets
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    **{kind: ext for ext, kind in DOCUMENT_TYPES.items()},
}
ACCEPTED_TYPES: tuple[str, ...] = tuple(EXTENSIONS)

_PNG = b"\x89PNG\r\n\x1a\n"
_PDF = b"%PDF-"
_ZIP = b"PK\x03\x04"  # docx, xlsx, pptx are ZIP files
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # doc, xls, ppt are OLE compound files
_CONTAINERS = {"docx": _ZIP, "xlsx": _ZIP, "pptx": _ZIP, "doc": _OLE, "xls": _OLE, "ppt": _OLE}
# Windows (MZ), Linux (ELF) and macOS (Mach-O, both byte orders, 32 and 64 bits) executables.
_EXECUTABLES = (
    b"MZ",
    b"\x7fELF",
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
)
# JPEG start-of-frame markers (the frame header holds the size): baseline, extended, progressive,
# lossless, hierarchical and arithmetic-coded variants; not C4 (DHT), C8 (JPG) or CC (DAC).
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
# Markers without a length field: TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
MAX_DIMENSION = 1 << 24  # a width or height past this is no real image: its header is corrupt


class NotAnImage(ValueError):
    """The bytes are not an image botport can read the size of (truncated, corrupt, or another kind)."""


@dataclass(frozen=True, slots=True)
class FileType:
    content_type: str
    extension: str  # the usual one, for a name that has none

    @property
    def is_image(self) -> bool:
        return self.content_type in IMAGE_TYPES


def extension_of(name: str) -> str:
    """The lower-case extension of a file name ("" when there is none)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return ext.lower() if dot and stem else ""


def image_type(data: bytes) -> str | None:
    """The image type the bytes begin with, or None."""
    if data.startswith(_PNG):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff(data: bytes, name: str = "", hint: str = "") -> FileType | None:
    """The accepted type of a file, or None when botport does not take it.

    The bytes decide for images and PDF. Otherwise the name's extension must be on the allow-list
    (``hint``, a declared MIME type, stands in for a name without an extension: a ``data:`` URL), and
    an Office file must be the container its extension says (ZIP or OLE). SVG and executables are
    never accepted.
    """
    found = image_type(data)
    if found is not None:
        return FileType(found, EXTENSIONS[found])
    if data.startswith(_PDF):
        return FileType("application/pdf", "pdf")
    if data.startswith(_EXECUTABLES) or _looks_like_svg(data):
        return None
    ext = extension_of(name)
    if not ext:
        declared = hint.split(";", 1)[0].strip().lower()
        ext = next((e for e, kind in DOCUMENT_TYPES.items() if kind == declared), "")
    if ext == "pdf":  # a PDF's bytes say so (above); a name alone does not make one
        return None
    container = _CONTAINERS.get(ext)
    if container is not None and not data.startswith(container):  # an Office file's bytes must agree
        return None
    kind = DOCUMENT_TYPES.get(ext)
    return FileType(kind, ext) if kind is not None else None


def _looks_like_svg(data: bytes) -> bool:
    """SVG under any name (it may carry script): an ``<svg`` element near the start of an XML text."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<svg", b"<?xml", b"<!doctype svg")) and b"<svg" in head


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from an image's header; :class:`NotAnImage` when they cannot be read."""
    kind = image_type(data)
    try:
        if kind == "image/png":
            size = _png_size(data)
        elif kind == "image/jpeg":
            size = _jpeg_size(data)
        elif kind == "image/gif":
            size = struct.unpack_from("<HH", data, 6)
        elif kind == "image/webp":
            size = _webp_size(data)
        else:
            raise NotAnImage("not a PNG, JPEG, GIF or WebP image")
    except struct.error:
        raise NotAnImage(f"the {_short(kind)} image is truncated") from None
    width, height = size
    if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
        raise NotAnImage(f"the {_short(kind)} image's header gives no valid size ({width}×{height})")
    return width, height


def _short(kind: str | None) -> str:
    return (kind or "").removeprefix("image/").upper()


def _png_size(data: bytes) -> tuple[int, int]:
    # The first chunk must be IHDR: length 13, then width and height (big-endian).
    length, chunk = struct.unpack_from(">I4s", data, 8)
    if chunk != b"IHDR" or length != 13:
        raise NotAnImage("the PNG image has no IHDR header")
    width, height = struct.unpack_from(">II", data, 16)
    return int(width), int(height)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the marker segments to the first start-of-frame (any of them: progressive too)."""
    pos = 2  # after SOI
    end = len(data)
    while pos < end:
        if data[pos] != 0xFF:
            raise NotAnImage("the JPEG image is corrupt (no marker where one belongs)")
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            break
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            raise NotAnImage("the JPEG image has no frame header before its data")
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            raise NotAnImage("the JPEG image is corrupt (a segment shorter than its length field)")
        if marker in _JPEG_SOF:
            # length, precision, height, width
            _, height, width = struct.unpack_from(">BHH", data, pos + 2)
            return int(width), int(height)
        pos += length  # strictly forward: the walk ends
    raise NotAnImage("the JPEG image is truncated")


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14-bit sizes
        if data[23:26] != b"\x9d\x01\x2a":
            raise NotAnImage("the WebP image's VP8 frame has no start code")
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: a signature byte, then width-1 and height-1 in 14 bits each
        if len(data) < 25 or data[20] != 0x2F:
            raise NotAnImage("the WebP image's VP8L header has no signature")
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: the canvas size, 24 bits each, minus one
        if len(data) < 30:
            raise NotAnImage("the WebP image is truncated")
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise NotAnImage("the WebP image has no VP8, VP8L or VP8X header")
