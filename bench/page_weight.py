"""Benchmark (not a test): what the page costs a first-time visitor, in real Chromium.

Starts ``botport serve`` in demo mode on a free loopback port, opens the page with an empty cache and
counts, from Chromium's network events: requests, bytes transferred (headers and compressed bodies, as
the network carries them), bytes of each kind decoded, and the first contentful paint. Then it
sends one question and reports the JS heap. Needs Chromium at /usr/bin/chromium.

    python bench/page_weight.py                 # the page as it is
    PYTHONPATH=/tmp/prev/src python bench/page_weight.py   # an older checkout, for a side by side
"""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "browser"))

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, running_botport
from playwright.sync_api import sync_playwright


def measure(base_url: str) -> dict[str, Any]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        kinds: dict[str, str] = {}
        transferred: dict[str, int] = {}
        cdp.on("Network.responseReceived", lambda e: kinds.__setitem__(e["requestId"], e["type"]))
        cdp.on(
            "Network.loadingFinished",
            lambda e: transferred.__setitem__(e["requestId"], int(e["encodedDataLength"])),
        )
        page.goto(base_url, wait_until="networkidle")
        paint = page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null")
        by_kind: dict[str, int] = defaultdict(int)
        for request_id, size in transferred.items():
            by_kind[kinds.get(request_id, "Other")] += size
        page.get_by_role("textbox").first.fill("hello")
        page.keyboard.press("Enter")
        page.wait_for_selector("[data-status=completed]", timeout=60_000)
        heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : null")
        browser.close()
    return {
        "requests": len(transferred),
        "transferred": sum(transferred.values()),
        "by_kind": dict(sorted(by_kind.items(), key=lambda kv: -kv[1])),
        "first_contentful_paint_ms": paint,
        "js_heap_after_one_answer": heap,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, running_botport(Path(tmp)) as base_url:
        result = measure(base_url)
    print(f"requests: {result['requests']}")
    print(f"transferred, cold: {result['transferred'] / 1024:.1f} KB")
    for kind, size in result["by_kind"].items():
        print(f"  {kind}: {size / 1024:.1f} KB")
    print(f"first contentful paint: {result['first_contentful_paint_ms']:.0f} ms")
    heap = result["js_heap_after_one_answer"]
    print(f"JS heap after one answer: {heap / 1e6:.1f} MB" if heap else "JS heap: not reported")


if __name__ == "__main__":
    main()
