"""axe-core in the browser tests: inject the engine (installed by npm into tests/browser/axe, never served
to users) into a page and run it with the WCAG 2.x A and AA rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

AXE_JS = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}

needs_axe = pytest.mark.skipif(
    not AXE_JS.exists(), reason=f"{AXE_JS} is missing (npm ci --prefix tests/browser/axe)"
)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every WCAG 2.x A/AA violation axe finds in the page as it is now."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated by the browser's devtools protocol: the page's Content-Security-Policy (script-src
        # 'self') stays on, where add_script_tag would need bypass_csp.
        page.evaluate(f"() => {{ {AXE_JS.read_text()}\n}}")
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results: dict[str, Any] = page.evaluate("(options) => window.axe.run(document, options)", options)
    return list(results["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per rule and node: impact, rule, target, and axe's summary of what fails."""
    lines = []
    for violation in violations:
        for node in violation["nodes"]:
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"{violation['impact']} {violation['id']} {node['target']}: {summary}")
    return "\n".join(lines)


def assert_no_serious_violations(page: Page) -> None:
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
    assert blocking == [], "axe found serious or critical violations:\n" + describe(blocking)
