"""botport.images against files it did not write: Chromium's own JPEG, WebP (lossy, and at its best
quality) and PNG encoders, through a canvas."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import Browser

from botport.images import image_size, sniff

pytestmark = pytest.mark.browser

_ENCODE = """([kind, quality]) => {
  const canvas = document.createElement("canvas");
  canvas.width = 123;
  canvas.height = 45;
  const g = canvas.getContext("2d");
  g.fillStyle = "#c33"; g.fillRect(0, 0, 60, 20);
  g.fillStyle = "#3c3"; g.fillRect(60, 20, 63, 25);
  return canvas.toDataURL(kind, quality);
}"""


@pytest.mark.parametrize(
    ("kind", "quality"), [("image/jpeg", 0.9), ("image/webp", 0.5), ("image/webp", 1.0), ("image/png", 1)]
)
def test_files_from_a_real_encoder(browser: Browser, kind: str, quality: float) -> None:
    page = browser.new_page()
    try:
        url = page.evaluate(_ENCODE, [kind, quality])
    finally:
        page.close()
    assert url.startswith(f"data:{kind};base64,"), url[:40]
    data = base64.b64decode(url.split(",", 1)[1])
    found = sniff(data, "canvas")
    assert found is not None and found.content_type == kind
    assert image_size(data) == (123, 45)
