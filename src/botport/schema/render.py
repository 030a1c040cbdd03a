"""Documents as JSON or YAML text, keys in the order they were built (readable top-down)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import yaml  # type: ignore[import-untyped]


class Format(StrEnum):
    json = "json"
    yaml = "yaml"


def render(document: dict[str, Any], output_format: Format = Format.json) -> str:
    """The document as text ending in a newline; non-ASCII (the Chinese descriptions) kept readable."""
    if output_format is Format.yaml:
        text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=4096)
        return text
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
