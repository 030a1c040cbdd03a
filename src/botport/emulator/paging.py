"""Page-number paging from the query string, as Coze's list calls take it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from starlette.requests import Request

from botport.emulator.inputs import bad

T = TypeVar("T")


def int_query(request: Request, names: Sequence[str], default: int, low: int, high: int) -> int:
    """The first of ``names`` in the query string (SDKs disagree on some names), as an int in range."""
    for name in names:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            raise bad(f"{name} must be an integer") from None
        if not low <= value <= high:
            raise bad(f"{name} must be between {low} and {high}")
        return value
    return default


def bool_query(request: Request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("true", "false", "1", "0"):
        raise bad(f"{name} must be true or false")
    return raw.lower() in ("true", "1")


def page(items: Sequence[T], page_num: int, page_size: int) -> tuple[list[T], bool]:
    """Page ``page_num`` (from 1) of ``items``, and whether later pages hold more."""
    start = (page_num - 1) * page_size
    return list(items[start : start + page_size]), start + page_size < len(items)
