"""What a file is, from its bytes (botport.images): the accepted types, an image's size from its header,
and nothing but NotAnImage from truncated or hostile bytes. Files are made here, byte by byte; Chromium's
real encoders check the readers against files we did not write (tests/browser/test_image_encoders.py)."""

from __future__ import annotations

import random
import struct
import time

import pytest

from botport.images import ACCEPTED_TYPES, NotAnImage, extension_of, image_size, sniff
from image_files import png

# --- files made by hand -------------------------------------------------------------------------


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg(width: int, height: int, *, sof: int = 0xC0, fill: bool = False) -> bytes:
    """A JPEG's structure: SOI, APP0 (JFIF), DQT, a restart marker, the frame header (``sof``), a scan."""
    app0 = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dqt = _segment(0xDB, b"\x00" + bytes(range(1, 65)))
    frame = _segment(sof, struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01")
    scan = _segment(0xDA, b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00") + b"\x12\x34\x56\x78"
    padding = b"\xff\xff\xff" if fill else b""  # fill bytes before a marker are allowed
    return b"\xff\xd8" + app0 + dqt + b"\xff\xd0" + padding + frame + scan + b"\xff\xd9"


def gif(width: int, height: int) -> bytes:
    """A GIF89a: screen descriptor, a two-colour table, one image (a 1×1 image's pixel data)."""
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + image + b"\x3b"


def _riff(chunk: bytes, payload: bytes) -> bytes:
    body = (
        b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) % 2 else b"")
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_lossy(width: int, height: int) -> bytes:
    frame_tag = b"\x50\x02\x00"  # a key frame
    return _riff(b"VP8 ", frame_tag + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 10)


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    return _riff(b"VP8L", b"\x2f" + struct.pack("<I", bits) + b"\x00" * 8)


def webp_extended(width: int, height: int) -> bytes:
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return _riff(b"VP8X", b"\x10\x00\x00\x00" + canvas)


IMAGES = [
    pytest.param(png(640, 480), "image/png", (640, 480), id="png"),
    pytest.param(png(1, 1), "image/png", (1, 1), id="png-1x1"),
    pytest.param(jpeg(640, 480), "image/jpeg", (640, 480), id="jpeg-baseline"),
    pytest.param(jpeg(1920, 1080, sof=0xC2), "image/jpeg", (1920, 1080), id="jpeg-progressive"),
    pytest.param(jpeg(33, 17, sof=0xC1, fill=True), "image/jpeg", (33, 17), id="jpeg-extended-fill"),
    pytest.param(jpeg(65535, 2, sof=0xCA), "image/jpeg", (65535, 2), id="jpeg-progressive-arithmetic"),
    pytest.param(gif(7, 9), "image/gif", (7, 9), id="gif"),
    pytest.param(b"GIF87a" + gif(300, 200)[6:], "image/gif", (300, 200), id="gif87a"),
    pytest.param(webp_lossy(300, 200), "image/webp", (300, 200), id="webp-vp8"),
    pytest.param(webp_lossless(16383, 16384), "image/webp", (16383, 16384), id="webp-vp8l"),
    pytest.param(webp_extended(5000, 1), "image/webp", (5000, 1), id="webp-vp8x"),
]


@pytest.mark.parametrize(("data", "kind", "size"), IMAGES)
def test_images_are_known_by_their_bytes_and_sized_by_their_header(
    data: bytes, kind: str, size: tuple[int, int]
) -> None:
    assert image_size(data) == size
    found = sniff(data, "photo")
    assert found is not None and found.content_type == kind and found.is_image
    # The bytes win over the name: a PNG called notes.txt is a PNG.
    misnamed = sniff(data, "notes.txt", "text/plain")
    assert misnamed is not None and misnamed.content_type == kind


@pytest.mark.parametrize(("data", "kind", "size"), IMAGES)
def test_every_truncation_is_not_an_image_or_the_right_size(
    data: bytes, kind: str, size: tuple[int, int]
) -> None:
    sized = []
    for end in range(len(data) + 1):
        try:
            assert image_size(data[:end]) == size  # the header was whole
        except NotAnImage:
            assert not sized, f"a longer prefix ({end} bytes) lost the size"
            continue
        sized.append(end)
    assert sized and sized[-1] == len(data)


def test_garbage_after_an_image_signature_never_raises_anything_else() -> None:
    rng = random.Random(20261128)
    signatures = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP"]
    started = time.monotonic()
    for _ in range(4000):
        data = rng.choice(signatures) + rng.randbytes(rng.randrange(0, 64))
        if data.startswith(b"RIFF"):
            data = data[:12] + rng.choice([b"VP8 ", b"VP8L", b"VP8X", b"ABCD"]) + data[12:]
        try:
            width, height = image_size(data)
        except NotAnImage:
            continue
        assert 0 < width <= 1 << 24 and 0 < height <= 1 << 24
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            b"\xff\xd8" + b"\xff\xda" + b"\x00\x08" + b"\x00" * 6 + b"\xff\xd9", id="scan-before-frame"
        ),
        pytest.param(b"\xff\xd8" + b"\xff\xe0\x00\x01", id="segment-length-1"),
        pytest.param(b"\xff\xd8" + b"\xff\xe0\x00\x00" * 3, id="segment-length-0"),
        pytest.param(b"\xff\xd8\xff\xd9", id="end-at-once"),
        pytest.param(b"\xff\xd8\x00\x01\x02", id="no-marker"),
        pytest.param(b"\xff\xd8" + b"\xff" * 100, id="only-fill"),
        pytest.param(jpeg(0, 480), id="jpeg-zero-width"),
        pytest.param(png(1, 1)[:12] + b"IDAT" + png(1, 1)[16:], id="png-without-ihdr"),
        pytest.param(png(1, 1)[:16] + b"\x00\x00\x00\x00\x00\x00\x00\x01", id="png-zero-width"),
        pytest.param(png(1, 1)[:16] + b"\xff\xff\xff\xff\x00\x00\x00\x01", id="png-absurd-width"),
        pytest.param(gif(0, 0), id="gif-zero"),
        pytest.param(webp_lossy(300, 200).replace(b"\x9d\x01\x2a", b"\x00\x00\x00"), id="vp8-no-start-code"),
        pytest.param(webp_lossless(3, 3).replace(b"\x2f", b"\x00", 1), id="vp8l-no-signature"),
        pytest.param(_riff(b"ABCD", b"\x00" * 16), id="webp-unknown-chunk"),
        pytest.param(b"", id="empty"),
        pytest.param(b"%PDF-1.7\n", id="pdf"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", id="svg"),
    ],
)
def test_what_cannot_be_sized_is_not_an_image(data: bytes) -> None:
    with pytest.raises(NotAnImage):
        image_size(data)


def test_a_huge_jpeg_header_walk_is_bounded() -> None:
    """Thousands of segments before the frame: read forward once, never looping."""
    comments = b"".join(_segment(0xFE, b"x" * 100) for _ in range(20_000))
    data = b"\xff\xd8" + comments + jpeg(12, 34)[2:]
    started = time.monotonic()
    assert image_size(data) == (12, 34)
    assert time.monotonic() - started < 2


ZIP = b"PK\x03\x04" + b"\x00" * 26
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24


@pytest.mark.parametrize(
    ("data", "name", "hint", "expected"),
    [
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "report.pdf", "", "application/pdf"),
        (b"%PDF-1.4\n", "report.bin", "", "application/pdf"),  # the bytes say PDF
        (b"just text", "report.pdf", "application/pdf", None),  # a name alone makes no PDF
        (b"hello", "notes.txt", "", "text/plain"),
        (b"hello", "NOTES.TXT", "", "text/plain"),
        (b"# Title", "README.md", "", "text/markdown"),
        (b"a,b\n1,2", "table.csv", "", "text/csv"),
        (b'{"a": 1}', "data.json", "", "application/json"),
        (ZIP, "letter.docx", "", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (ZIP, "sheet.xlsx", "", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (ZIP, "deck.pptx", "", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (b"not a zip", "letter.docx", "", None),  # an Office file's bytes must agree with its name
        (OLE, "old.doc", "", "application/msword"),
        (OLE, "old.xls", "", "application/vnd.ms-excel"),
        (OLE, "old.ppt", "", "application/vnd.ms-powerpoint"),
        (ZIP, "old.doc", "", None),
        (b"hello", "", "text/plain", "text/plain"),  # a data: URL: no name, its declared type stands in
        (b"hello", "", "text/plain; charset=utf-8", "text/plain"),
        (b"hello", "", "", None),
        (b"hello", "noextension", "", None),
        (b"hello", ".txt", "", None),  # a hidden file's name has no extension
        (b"hello", "archive.zip", "", None),
        (b"hello", "page.html", "text/html", None),
        (b"<svg onload='alert(1)'/>", "drawing.svg", "image/svg+xml", None),
        (b"<svg onload='alert(1)'/>", "", "image/svg+xml", None),
        (b"\xef\xbb\xbf <?xml version='1.0'?>\n<svg/>", "drawing.txt", "", None),  # SVG under any name
        (b"MZ\x90\x00\x03", "setup.exe", "", None),
        (b"MZ\x90\x00\x03", "harmless.txt", "text/plain", None),  # an executable under any name
        (b"\x7fELF\x02\x01", "run.txt", "", None),
        (b"\xcf\xfa\xed\xfe\x07", "mac.csv", "", None),
    ],
)
def test_what_botport_takes(data: bytes, name: str, hint: str, expected: str | None) -> None:
    found = sniff(data, name, hint)
    assert (found.content_type if found else None) == expected
    if found is not None:
        assert found.content_type in ACCEPTED_TYPES and not found.is_image


def test_extensions() -> None:
    assert extension_of("a/b\\c.TAR.GZ") == "gz"
    assert extension_of("photo.JPG") == "jpg"
    assert extension_of(".bashrc") == ""
    assert extension_of("dir.d/file") == ""
    assert extension_of("") == ""
