"""Tool edge for agent platforms: POST /api/tool/ask and its OpenAPI document (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["tool"])
