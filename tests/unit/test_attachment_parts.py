"""The pieces of botport.chat.attachments that any edge uses: data: URLs (their size checked before they
are decoded), a question's Coze parts, remote files by URL, and the names files are kept under."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest

from botport.chat.attachments import (
    RemoteFile,
    data_url_name,
    decode_data_url,
    message_parts,
    remote_file,
    safe_name,
)
from botport.errors import BadRequestError, PayloadTooLargeError
from botport.store.attachments import AttachmentRecord
from image_files import data_url, png


def _record(name: str, content_type: str, coze_file_id: str | None = "f1") -> AttachmentRecord:
    return AttachmentRecord(
        id="att_1",
        owner="anon:a",
        message_id=None,
        name=name,
        content_type=content_type,
        size=1,
        width=None,
        height=None,
        sha256="0" * 64,
        coze_file_id=coze_file_id,
        created_at=datetime.now(UTC),
    )


def test_data_urls() -> None:
    image = png(3, 3)
    assert decode_data_url(data_url(image), max_bytes=1000) == ("image/png", image)
    assert decode_data_url("data:text/plain;charset=utf-8;base64,aGk=", max_bytes=10) == ("text/plain", b"hi")
    assert decode_data_url("data:TEXT/Plain,hello%20there", max_bytes=100) == ("text/plain", b"hello there")
    assert decode_data_url("data:;base64,aGk=", max_bytes=10) == ("", b"hi")
    assert decode_data_url("data:image/png;base64,", max_bytes=10) == ("image/png", b"")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.png",
        "data:image/png;base64",  # no comma
        "image/png;base64,aGk=",
        "data:image/png;base64,a*b=",  # not base64
        "data:image/png;base64,aGk",  # bad padding
    ],
)
def test_bad_data_urls_are_400(url: str) -> None:
    with pytest.raises(BadRequestError) as info:
        decode_data_url(url, max_bytes=1000)
    assert info.value.status == 400 and info.value.code == "invalid_data_url"


def test_a_data_url_too_large_is_refused_before_it_is_decoded() -> None:
    exact = "data:application/pdf;base64," + base64.b64encode(b"x" * 3000).decode()
    assert len(decode_data_url(exact, max_bytes=3000)[1]) == 3000
    with pytest.raises(PayloadTooLargeError) as info:
        decode_data_url(exact, max_bytes=2999)
    assert info.value.code == "attachment_too_large" and info.value.status == 413
    # Forty million characters of nonsense: refused by its length, in no time, never decoded.
    huge = "data:image/png;base64," + "!" * 40_000_000
    started = time.monotonic()
    with pytest.raises(PayloadTooLargeError):
        decode_data_url(huge, max_bytes=10 * 1024 * 1024)
    assert time.monotonic() - started < 0.5
    with pytest.raises(PayloadTooLargeError):
        decode_data_url("data:text/plain," + "a" * 400, max_bytes=100)


def test_names_for_data_urls() -> None:
    assert data_url_name("image/png") == "image.png"
    assert data_url_name("image/jpeg") == "image.jpg"
    assert data_url_name("application/pdf") == "file.pdf"
    assert data_url_name("text/plain") == "file.txt"
    assert data_url_name("application/x-unknown") == "file.bin"


def test_a_question_as_coze_parts() -> None:
    photo, notes = _record("p.png", "image/png", "img-1"), _record("n.pdf", "application/pdf", "doc-1")
    remote = RemoteFile("https://example.com/cat.png")
    assert message_parts("look", [photo, notes], [remote]) == [
        {"type": "text", "text": "look"},
        {"type": "image", "file_id": "img-1"},
        {"type": "file", "file_id": "doc-1"},
        {"type": "image", "file_url": "https://example.com/cat.png"},
    ]
    assert message_parts("", [notes]) == [{"type": "file", "file_id": "doc-1"}]
    with pytest.raises(BadRequestError) as info:
        message_parts("x", [_record("lost.png", "image/png", None)])
    assert info.value.code == "attachment_not_uploaded"


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a.png",
        "ftp://example.com/a",
        "https:///nohost",
        "javascript:alert(1)",
        "https://a b/",
    ],
)
def test_remote_files_are_https_only(url: str) -> None:
    with pytest.raises(BadRequestError) as info:
        remote_file(url)
    assert info.value.code == "invalid_file_url"


def test_remote_file() -> None:
    assert remote_file("https://example.com/r.pdf", "file") == RemoteFile("https://example.com/r.pdf", "file")


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("photo.png", "photo.png"),
        ("C:\\Users\\me\\Desktop\\photo.png", "photo.png"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("  spaced \t out .txt ", "spaced out .txt"),
        ("line\nbreak\u2028.md", "line break .md"),
        ("nul\x00byte.txt", "nul byte.txt"),
        ("...", "file.png"),
        ("", "file.png"),
        ("\udcff.txt", "file.png"),  # a lone surrogate is no name
        ("报告 2024.pdf", "报告 2024.pdf"),
        ("a" * 300 + ".xlsx", "a" * 195 + ".xlsx"),
    ],
)
def test_kept_names(name: str, kept: str) -> None:
    assert safe_name(name, "png") == kept
