"""The widget's frame shows attachments from blob: URLs of bytes it fetched with its header
(web/js/api.js attachmentUrl). Each holds a file in memory until revoked: only the most recently used
PRIVATE_URLS_KEPT are kept, the others revoked, and one needed again is fetched again. Run in Chromium
on the page's own module, in the frame's mode (an embed token set), the file answers routed."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, Route

pytestmark = pytest.mark.browser

# The page's CSP lets no script read a blob: URL (connect-src 'self'), so the revocations are watched.
LOOK = """
async ([token, urls]) => {
  const api = await import('/static/js/api.js');
  api.useEmbedSession(token, null);
  if (!window.revokedBlobs) {
    window.revokedBlobs = [];
    const revoke = URL.revokeObjectURL.bind(URL);
    URL.revokeObjectURL = (blob) => { window.revokedBlobs.push(blob); revoke(blob); };
  }
  const blobs = [];
  for (const url of urls) blobs.push(await api.attachmentUrl(url));
  await new Promise((resolve) => setTimeout(resolve, 50)); // an eviction revokes once its fetch is done
  return { kept: api.PRIVATE_URLS_KEPT, blobs, revoked: window.revokedBlobs.splice(0) };
}
"""


def test_only_the_newest_blob_urls_are_kept_and_an_evicted_one_is_fetched_again(page: Page) -> None:
    fetched: list[str] = []
    headers: list[str | None] = []

    def answer(route: Route) -> None:
        fetched.append(route.request.url.rsplit("/", 1)[1])
        headers.append(route.request.headers.get("x-botport-embed"))
        route.fulfill(status=200, content_type="text/plain", body=f"bytes of {fetched[-1]}")

    page.route("**/api/files/**", answer)
    kept = page.evaluate("async () => (await import('/static/js/api.js')).PRIVATE_URLS_KEPT")
    assert kept >= 32  # a long thread's images are all kept
    urls = [f"/api/files/f{i}" for i in range(kept + 1)]
    # f1 is looked at again before the last one comes: the oldest unused one is f0, not f1.
    first = page.evaluate(LOOK, ["a-widget-token", [*urls[:-1], urls[1], urls[-1]]])
    assert first["kept"] == kept
    assert fetched == [f"f{i}" for i in range(kept + 1)]  # f1 once: the second look used its blob
    assert set(headers) == {"a-widget-token"}  # fetched with the frame's identity
    blobs = first["blobs"]
    assert all(blob.startswith("blob:") for blob in blobs)
    assert len(set(blobs)) == kept + 1  # one per file
    assert blobs[1] == blobs[kept]  # the same blob: URL for f1's second look
    assert first["revoked"] == [blobs[0]]  # f0's, the least recently used: its bytes are let go

    # f0 needed again: fetched again, a new blob: URL; f2, now the oldest, is revoked for it (and when
    # it is needed next, fetched again, which revokes f3's).
    again = page.evaluate(LOOK, ["a-widget-token", [urls[0], urls[2]]])
    assert fetched[kept + 1 :] == ["f0", "f2"]
    assert again["blobs"][0] not in blobs and again["blobs"][1] not in blobs
    assert again["revoked"] == [blobs[2], blobs[3]]
